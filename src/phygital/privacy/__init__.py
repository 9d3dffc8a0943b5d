"""Trust: consent, export and erasure on request, audit."""
