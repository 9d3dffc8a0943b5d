"""Tracking's parts in the customer timeline and the privacy registry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from phygital.identity.timeline import Before, TimelineItem, older_than, seq, timeline_provider
from phygital.privacy.registry import register
from phygital.tracking.models import Event, Source

PROVIDER = "event"


def summary(event: Event | Any) -> str:
    if event.type == "track":
        text = event.name or "track"
    elif event.type in ("page", "screen"):
        props = event.properties or {}
        text = f"{event.type}: {event.name or props.get('title') or props.get('path') or ''}"
    elif event.type == "identify":
        text = "identify"
    else:
        text = event.type
    if event.sku:
        text += f" · {event.sku}"
    return text.strip()


@timeline_provider(PROVIDER)
def events_timeline(
    session: Session, member_ids: list[str], before: Before | None, limit: int
) -> list[TimelineItem]:
    stmt = select(Event).where(Event.profile_id.in_(member_ids))
    if before is not None:
        stmt = stmt.where(older_than(before, PROVIDER, Event.event_at, Event.id))
    rows = session.scalars(stmt.order_by(Event.event_at.desc(), Event.id.desc()).limit(limit))
    return [
        TimelineItem(
            at=e.event_at,
            channel=e.channel,
            kind=e.type,
            summary=summary(e),
            ref=f"event:{e.id}",
            provider=PROVIDER,
            seq=seq(e.id),
            detail={"sku": e.sku, "properties": e.properties},
        )
        for e in rows
    ]


def export(session: Session, member_ids: list[str]) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Event, Source.name)
        .join(Source, Source.id == Event.source_id)
        .where(Event.profile_id.in_(member_ids))
        .order_by(Event.event_at)
    )
    return [
        {
            "at": e.event_at.isoformat(),
            "received_at": e.received_at.isoformat(),
            "source": source_name,
            "channel": e.channel,
            "type": e.type,
            "name": e.name,
            "sku": e.sku,
            "properties": e.properties,
            "traits": e.traits,
            "context": e.context,
            "message_id": e.message_id,
        }
        for e, source_name in rows
    ]


def erase(session: Session, member_ids: list[str]) -> None:
    session.execute(delete(Event).where(Event.profile_id.in_(member_ids)))


register("events", exporter=export, eraser=erase, order=10)
