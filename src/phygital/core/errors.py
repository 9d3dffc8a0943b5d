"""Domain errors. Services raise these; the HTTP layer maps them to status codes."""

from __future__ import annotations


class DomainError(Exception):
    """Base of errors a person can act on; the message is safe to show."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Invalid(DomainError):
    """Input that is well-formed but not acceptable (422), naming the field where there is one."""

    status_code = 422


class PermissionDenied(DomainError):
    status_code = 403


class Unauthenticated(DomainError):
    status_code = 401


class TooManyAttempts(DomainError):
    status_code = 429
