"""Consent per purpose and channel, and the one question other domains ask:
"may I contact this person on this channel for this purpose now?"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from phygital.core.clock import Clock
from phygital.core.errors import Invalid
from phygital.db import execute_many, new_id
from phygital.privacy.models import ConsentEntry, ContactChannel, Purpose


@dataclass(frozen=True)
class ConsentStatement:
    purpose: str
    channel: str
    granted: bool
    at: datetime
    source: str
    wording: str | None = None


def check(purpose: str, channel: str, *, field: str = "consents") -> tuple[Purpose, ContactChannel]:
    try:
        p = Purpose(purpose)
    except ValueError:
        allowed = ", ".join(x.value for x in Purpose)
        raise Invalid(f"unknown purpose {purpose!r} (allowed: {allowed})", field=field) from None
    try:
        c = ContactChannel(channel)
    except ValueError:
        allowed = ", ".join(x.value for x in ContactChannel)
        raise Invalid(f"unknown channel {channel!r} (allowed: {allowed})", field=field) from None
    return p, c


def record(
    session: Session, *, clock: Clock, profile_id: str, statements: list[ConsentStatement]
) -> None:
    """Append statements to the ledger; nothing is ever overwritten."""
    record_many(session, clock=clock, statements={profile_id: statements})


def record_many(
    session: Session, *, clock: Clock, statements: dict[str, list[ConsentStatement]]
) -> int:
    """Append the statements of many profiles in one write (imports); returns how many."""
    now = clock.now()
    rows = []
    for profile_id, items in statements.items():
        for s in items:
            purpose, channel = check(s.purpose, s.channel)
            rows.append(
                {
                    "id": new_id(),
                    "profile_id": profile_id,
                    "purpose": purpose.value,
                    "channel": channel.value,
                    "granted": s.granted,
                    "at": s.at,
                    "source": s.source[:200],
                    "wording": s.wording,
                    "recorded_at": now,
                }
            )
    if rows:
        # One driver executemany (imports append tens of thousands).
        execute_many(session, insert(ConsentEntry.__table__), rows, cache_key="consents.insert")  # type: ignore[arg-type]
    return len(rows)


def ledger(session: Session, *, profile_ids: list[str]) -> list[ConsentEntry]:
    """Every statement of these profiles, oldest first, with its wording (for imports that
    must not append a statement the ledger already holds)."""
    return list(
        session.scalars(
            select(ConsentEntry)
            .where(ConsentEntry.profile_id.in_(profile_ids))
            .order_by(ConsentEntry.at, ConsentEntry.recorded_at)
        )
    )


def current(session: Session, *, member_ids: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """`{purpose: {channel: {"granted", "at", "source"}}}`: the newest statement of each pair."""
    rows = session.scalars(
        select(ConsentEntry)
        .where(ConsentEntry.profile_id.in_(member_ids))
        .order_by(ConsentEntry.at, ConsentEntry.recorded_at)
    )
    state: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        state.setdefault(str(row.purpose), {})[str(row.channel)] = {
            "granted": row.granted,
            "at": row.at.isoformat(),
            "source": row.source,
        }
    return state


def may_contact(
    session: Session, *, member_ids: list[str], channel: str, purpose: str, at: datetime
) -> bool:
    """Marketing and profiling need an explicit grant; service messages (an order is ready) are
    allowed unless the person said no on that channel."""
    p, c = check(purpose, channel)
    newest = session.scalar(
        select(ConsentEntry.granted)
        .where(
            ConsentEntry.profile_id.in_(member_ids),
            ConsentEntry.purpose == p,
            ConsentEntry.channel == c,
            ConsentEntry.at <= at,
        )
        .order_by(ConsentEntry.at.desc(), ConsentEntry.recorded_at.desc())
        .limit(1)
    )
    if newest is None:
        return p == Purpose.SERVICE
    return bool(newest)


def parse_context_consent(value: Any, *, at: datetime, source: str) -> list[ConsentStatement]:
    """`context.consent` of a tracking call: `{"marketing": {"email": true}, "wording": "…"}`."""
    if not isinstance(value, dict):
        raise Invalid("context.consent must be an object", field="context.consent")
    wording = value.get("wording")
    statements = []
    for purpose, channels in value.items():
        if purpose == "wording":
            continue
        if not isinstance(channels, dict):
            raise Invalid(
                f"context.consent.{purpose} must map channels to true/false",
                field=f"context.consent.{purpose}",
            )
        for channel, granted in channels.items():
            if not isinstance(granted, bool):
                raise Invalid(
                    f"context.consent.{purpose}.{channel} must be true or false",
                    field=f"context.consent.{purpose}.{channel}",
                )
            check(purpose, channel, field=f"context.consent.{purpose}.{channel}")
            statements.append(
                ConsentStatement(
                    purpose, channel, granted, at, source, str(wording) if wording else None
                )
            )
    return statements
