"""The consent ledger's part in the privacy registry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from phygital.privacy.models import ConsentEntry
from phygital.privacy.registry import register


def export(session: Session, member_ids: list[str]) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ConsentEntry)
        .where(ConsentEntry.profile_id.in_(member_ids))
        .order_by(ConsentEntry.at)
    )
    return [
        {
            "purpose": r.purpose,
            "channel": r.channel,
            "granted": r.granted,
            "at": r.at.isoformat(),
            "source": r.source,
            "wording": r.wording,
        }
        for r in rows
    ]


def erase(session: Session, member_ids: list[str]) -> None:
    session.execute(delete(ConsentEntry).where(ConsentEntry.profile_id.in_(member_ids)))


register("consents", exporter=export, eraser=erase, order=50)
