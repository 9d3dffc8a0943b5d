"""The audit log: who did what to personal data, without the data itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from phygital.core.clock import Clock
from phygital.privacy.models import AuditEntry


def audit(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    action: str,
    subject: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record an action on a person's data (merge, unmerge, export, erasure)."""
    session.add(
        AuditEntry(at=clock.now(), actor=actor, action=action, subject=subject, detail=detail or {})
    )
