"""Cross-cutting pieces every domain uses: clock, errors, security, pagination, durable jobs."""
