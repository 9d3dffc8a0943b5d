"""Imports every domain's tables so the metadata is complete (Alembic, tests, create_all)."""

from __future__ import annotations


def load_all() -> None:
    import phygital.auth.models
    import phygital.commerce.models
    import phygital.core.models  # noqa: F401
