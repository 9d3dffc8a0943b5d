"""Shapes shared by every API: the error body and the error responses each route documents."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    """Every error: `{"detail": …}` — a sentence, or a list of `{"loc", "msg", "type"}`."""

    detail: str | list[dict[str, Any]] = Field(
        description="what is wrong; for input errors, the field (`loc`) and the reason (`msg`)"
    )


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("the body is not valid JSON"),
    401: _error("no token, or an unknown or revoked one"),
    403: _error("the token's role or store does not allow this"),
    404: _error("no such resource"),
    409: _error("conflicts with the current state"),
    422: _error("invalid input: the field and the reason"),
}
