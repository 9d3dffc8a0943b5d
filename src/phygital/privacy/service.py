"""Export and erasure of everything held about a person, and the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from phygital.core.clock import Clock
from phygital.identity.models import Profile
from phygital.identity.service import get_customer, root_id
from phygital.privacy.audit import audit
from phygital.privacy.registry import holders


def export_customer(
    session: Session, *, clock: Clock, customer_id: str, actor: str
) -> dict[str, Any]:
    """Everything held about the person, from every domain (GDPR Art. 15)."""
    customer = get_customer(session, customer_id)
    data: dict[str, Any] = {
        "customer_id": customer.id,
        "exported_at": clock.now().isoformat(),
    }
    for holder in holders():
        data[holder.name] = holder.exporter(session, customer.member_ids)
    audit(session, clock=clock, actor=actor, action="export", subject=customer.id)
    return data


def erase_customer(session: Session, *, clock: Clock, customer_id: str, actor: str) -> str:
    """Remove the person's data everywhere (GDPR Art. 17). Numeric facts the books need (order
    totals) are kept by their domains, detached from the person. Returns the erased id."""
    root = root_id(session, customer_id)
    member_ids = list(session.scalars(select(Profile.id).where(Profile.canonical_id == root)))
    for holder in holders():
        holder.eraser(session, member_ids)
    session.flush()
    audit(
        session,
        clock=clock,
        actor=actor,
        action="erase",
        subject=root,
        detail={"profiles": len(member_ids)},
    )
    return root


def compact_sqlite(session: Session) -> None:
    """After an erasure on SQLite, move the WAL into the main file and empty it, so erased values
    do not survive in the log (secure_delete already zeroes freed pages)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite" or not isinstance(bind, Engine):
        return
    with bind.connect() as conn:
        # Outside any transaction (no BEGIN): a checkpoint cannot run inside one.
        conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            "PRAGMA wal_checkpoint(TRUNCATE)"
        )
