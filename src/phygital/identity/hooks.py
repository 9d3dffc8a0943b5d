"""Identity's part in the privacy registry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, cast, delete, or_, select
from sqlalchemy.orm import Session

from phygital.identity.models import Identifier, IdentityConflict, MergeRecord, Profile
from phygital.privacy.registry import register


def _conflicts_about(member_ids: list[str]) -> ColumnElement[bool]:
    """Conflicts recorded on the person's profiles, and those where the person is the other
    side: these hold the person's identifiers too (an e-mail typed on somebody else's card)."""
    listed = cast(IdentityConflict.other_profile_ids, String)
    return or_(
        IdentityConflict.profile_id.in_(member_ids),
        *(listed.like(f'%"{member_id}"%') for member_id in member_ids),
    )


def export(session: Session, member_ids: list[str]) -> dict[str, Any]:
    profiles = session.scalars(select(Profile).where(Profile.id.in_(member_ids)))
    idents = session.scalars(select(Identifier).where(Identifier.profile_id.in_(member_ids)))
    merges = session.scalars(
        select(MergeRecord).where(
            or_(MergeRecord.survivor_id.in_(member_ids), MergeRecord.merged_id.in_(member_ids))
        )
    )
    conflicts = session.scalars(select(IdentityConflict).where(_conflicts_about(member_ids)))
    return {
        "profiles": [
            {
                "id": p.id,
                "created_at": p.created_at.isoformat(),
                "traits": p.traits,
                "merged_into_id": p.merged_into_id,
                "channels": p.channels,
                "first_seen_at": p.first_seen_at.isoformat() if p.first_seen_at else None,
                "last_seen_at": p.last_seen_at.isoformat() if p.last_seen_at else None,
            }
            for p in profiles
        ],
        "identifiers": [
            {
                "kind": i.kind,
                "value": i.value,
                "first_seen_at": i.first_seen_at.isoformat(),
                "origin": i.origin,
                "profile_id": i.profile_id,
            }
            for i in idents
        ],
        "merges": [
            {
                "survivor_id": m.survivor_id,
                "merged_id": m.merged_id,
                "cause": m.cause,
                "at": m.at.isoformat(),
                "undone_at": m.undone_at.isoformat() if m.undone_at else None,
            }
            for m in merges
        ],
        "conflicts": [
            {
                "profile_id": c.profile_id,
                "other_profile_ids": c.other_profile_ids.get("ids", []),
                "identifiers": c.identifiers.get("items", []),
                "reason": c.reason,
                "at": c.at.isoformat(),
            }
            for c in conflicts
        ],
    }


def erase(session: Session, member_ids: list[str]) -> None:
    session.execute(
        delete(MergeRecord).where(
            or_(MergeRecord.survivor_id.in_(member_ids), MergeRecord.merged_id.in_(member_ids))
        )
    )
    session.execute(delete(IdentityConflict).where(_conflicts_about(member_ids)))
    session.execute(delete(Identifier).where(Identifier.profile_id.in_(member_ids)))
    session.execute(delete(Profile).where(Profile.id.in_(member_ids)))


register("identity", exporter=export, eraser=erase, order=1000)
