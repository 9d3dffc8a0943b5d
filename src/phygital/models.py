"""Imports every domain's tables so the metadata is complete (Alembic, tests, create_all)."""

from __future__ import annotations


def load_all() -> None:
    import phygital.auth.models
    import phygital.commerce.models
    import phygital.core.models
    import phygital.identity.models
    import phygital.journeys.models
    import phygital.privacy.models
    import phygital.tracking.models  # noqa: F401
