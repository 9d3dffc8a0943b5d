"""Segment-compatible ingestion, sources and write keys, the event store."""
