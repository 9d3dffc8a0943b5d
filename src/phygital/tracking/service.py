"""Sources and ingestion of tracking events."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from phygital.core.clock import Clock
from phygital.core.errors import Conflict, Invalid, NotFound, Unauthenticated
from phygital.core.events import publish
from phygital.db import execute_many
from phygital.identity import identifiers as ids
from phygital.identity.identifiers import Ident
from phygital.identity.models import Identifier
from phygital.identity.resolution import Observation, lock_identity, resolve_many
from phygital.privacy import consent
from phygital.tracking.messages import Message
from phygital.tracking.models import SOURCE_CHANNELS, Channel, Event, Source


def new_write_key() -> str:
    return "wk_" + secrets.token_urlsafe(24)


def create_source(session: Session, *, name: str, channel: Channel) -> Source:
    """A new origin of events; its write key goes into the site, app or till."""
    name = name.strip()
    if not name:
        raise Invalid("a source needs a name", field="name")
    if channel not in SOURCE_CHANNELS:
        allowed = ", ".join(c.value for c in SOURCE_CHANNELS)
        raise Invalid(f"a source's channel is one of {allowed}", field="channel")
    if session.scalar(select(Source.id).where(Source.name == name)) is not None:
        raise Conflict(f"a source named {name!r} already exists", field="name")
    source = Source(name=name, channel=channel, write_key=new_write_key(), events_count=0)
    session.add(source)
    session.flush()
    return source


def list_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.name)))


def get_source(session: Session, source_id: str) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise NotFound(f"no source {source_id}")
    return source


def rotate_key(session: Session, *, source_id: str) -> Source:
    """A new write key; the old one stops working at once."""
    source = get_source(session, source_id)
    source.write_key = new_write_key()
    return source


def set_enabled(session: Session, *, clock: Clock, source_id: str, enabled: bool) -> Source:
    source = get_source(session, source_id)
    source.disabled_at = None if enabled else (source.disabled_at or clock.now())
    return source


def source_for_key(session: Session, write_key: str | None) -> Source:
    if not write_key:
        raise Unauthenticated("missing write key")
    # Ours are short printable ASCII; anything else (a NUL, a lone surrogate) cannot match and
    # would make PostgreSQL fail the lookup instead of answering 401.
    if len(write_key) > 64 or not (write_key.isascii() and write_key.isprintable()):
        raise Unauthenticated("unknown or disabled write key")
    source = session.scalar(select(Source).where(Source.write_key == write_key))
    if source is None or source.disabled_at is not None:
        raise Unauthenticated("unknown or disabled write key")
    return source


def ingest(
    session: Session,
    *,
    clock: Clock,
    source: Source,
    messages: list[Message],
    limits: dict[str, int] | None = None,
) -> int:
    """Store validated messages: resolve their people, store the events, update the source.
    Messages already stored for this source (same messageId) are skipped. Returns how many
    were new."""
    # Lock before looking for already-stored messageIds: a retry racing its original (a client
    # that timed out) then waits for it and skips its messages instead of failing on the
    # unique constraint (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers).
    lock_identity(session)
    seen = set(
        session.scalars(
            select(Event.message_id).where(
                Event.source_id == source.id,
                Event.message_id.in_({m.message_id for m in messages}),
            )
        )
    )
    fresh: list[Message] = []
    for message in messages:
        if message.message_id in seen:
            continue
        seen.add(message.message_id)
        fresh.append(message)
    if not fresh:
        return 0

    previous_as_user = _known_user_ids(session, [m.previous_id for m in fresh if m.previous_id])
    observations = []
    for m in fresh:
        idents = list(m.identifiers)
        if m.previous_id:
            kind = ids.USER_ID if m.previous_id in previous_as_user else ids.ANONYMOUS_ID
            idents.append(Ident(kind, m.previous_id))
        if m.user_id:
            # A user id seen earlier in this batch is known too, as it would be a request later.
            previous_as_user.add(m.user_id)
        observations.append(
            Observation(
                identifiers=idents,
                at=m.event_at,
                traits=_profile_traits(m.traits),
                channel=m.channel or source.channel,
                cause="alias" if m.type == "alias" else "event",
                ref=m.message_id,
            )
        )
    resolutions = resolve_many(session, clock=clock, observations=observations, limits=limits)
    now = clock.now()
    rows: list[dict[str, Any]] = []
    for m, resolution in zip(fresh, resolutions, strict=True):
        assert resolution is not None  # every message has a usable id (validated)
        rows.append(
            {
                "source_id": source.id,
                "message_id": m.message_id,
                "profile_id": resolution.profile_id,
                "type": m.type,
                "name": m.name,
                "channel": m.channel or source.channel,
                "sku": m.sku,
                "properties": m.properties,
                "traits": m.traits,
                "context": m.context,
                "event_at": m.event_at,
                "received_at": now,
            }
        )
        if m.consent:
            statements = [replace(s, source=f"tracking:{source.name}") for s in m.consent]
            consent.record(
                session, clock=clock, profile_id=resolution.profile_id, statements=statements
            )
    # One driver executemany with each distinct value processed once (the ORM's bulk path, and
    # even Core's per-row parameter handling, cost more than the insert on this hot path).
    execute_many(session, insert(Event.__table__), rows, cache_key="events.insert")  # type: ignore[arg-type]
    session.execute(
        update(Source)
        .where(Source.id == source.id)
        .values(events_count=Source.events_count + len(rows), last_event_at=now)
    )
    product_profiles = sorted({str(r["profile_id"]) for r in rows if r["sku"]})
    if product_profiles:
        # A product event older than a purchase already stored may complete a journey.
        publish(session, "tracking.product_events", clock=clock, profile_ids=product_profiles)
    return len(rows)


def _known_user_ids(session: Session, values: list[str]) -> set[str]:
    if not values:
        return set()
    keys = [f"{ids.USER_ID}:{v}" for v in values]
    return {
        k.split(":", 1)[1]
        for k in session.scalars(select(Identifier.key).where(Identifier.key.in_(keys)))
    }


# Traits that are identifiers or bookkeeping are not copied into the profile's traits.
_NOT_TRAITS = {"id", "userId", "anonymousId"}


def _profile_traits(traits: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in traits.items() if k not in _NOT_TRAITS}


# -- what customers looked at online ----------------------------------------------------------


@cache
def _product_views_statement() -> Select[Any]:
    """Built once (the pickup desk asks on every request): the products each member profile
    of `profiles` looked at online since `since`, its `per_customer` most recent."""
    last_at = func.max(Event.event_at)
    grouped = (
        select(
            Event.profile_id,
            Event.sku,
            func.count().label("events"),
            last_at.label("last_at"),
            # The top products of each member profile: the customer's are among them.
            func.row_number()
            .over(partition_by=Event.profile_id, order_by=(last_at.desc(), Event.sku))
            .label("rank"),
        )
        .where(
            Event.profile_id.in_(bindparam("profiles", expanding=True)),
            Event.event_at >= bindparam("since", type_=Event.event_at.type),
            Event.sku.is_not(None),
            Event.channel.in_(ONLINE_CHANNELS),
        )
        .group_by(Event.profile_id, Event.sku)
        .subquery()
    )
    return select(grouped.c.profile_id, grouped.c.sku, grouped.c.events, grouped.c.last_at).where(
        grouped.c.rank <= bindparam("per_customer")
    )


ONLINE_CHANNELS = tuple(c.value for c in Channel if c.online)


@dataclass(frozen=True)
class ProductInterest:
    """A product a customer looked at online: how many of their events named it, and when
    the last one was."""

    sku: str
    events: int
    last_at: datetime


def recent_product_views(
    session: Session,
    *,
    member_ids_by_customer: Mapping[str, Sequence[str]],
    since: datetime,
    per_customer: int = 5,
) -> dict[str, list[ProductInterest]]:
    """What each customer researched online since `since` (events with an sku from an online
    channel: product views, add-to-cart, wish lists…): at most `per_customer` products per
    customer, the most recently seen first. One query for all the customers, so a page of
    pickup cards costs the same for 5 customers or 50."""
    result: dict[str, list[ProductInterest]] = {c: [] for c in member_ids_by_customer}
    customer_of = {m: c for c, members in member_ids_by_customer.items() for m in members}
    if not customer_of or per_customer < 1:
        return result
    rows = session.execute(
        _product_views_statement(),
        {"profiles": sorted(customer_of), "since": since, "per_customer": per_customer},
    )
    merged: dict[str, dict[str, ProductInterest]] = {c: {} for c in member_ids_by_customer}
    for profile_id, sku, events, last in rows:
        products = merged[customer_of[profile_id]]
        seen = products.get(sku)
        if seen is not None:  # the same product seen by two member profiles of one customer
            events += seen.events
            last = max(last, seen.last_at)
        products[sku] = ProductInterest(sku=sku, events=int(events), last_at=last)
    for customer, products in merged.items():
        ranked = sorted(products.values(), key=lambda p: (-p.last_at.timestamp(), p.sku))
        result[customer] = ranked[:per_customer]
    return result
