"""Customers as people and programs see them: the cluster view of profiles (`Customer`, loaded
in two queries), finding one by id, identifier or search, adding one, counting them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from phygital.core.clock import Clock
from phygital.core.errors import Invalid, NotFound
from phygital.core.pagination import decode_cursor, encode_cursor
from phygital.identity import identifiers as ids
from phygital.identity.identifiers import Ident, IdentifierError
from phygital.identity.models import Identifier, Profile
from phygital.identity.resolution import Observation, Resolution, resolve_many


@dataclass
class Customer:
    """A customer as people and programs see it: all members of one cluster, combined."""

    id: str
    created_at: datetime
    member_ids: list[str]
    traits: dict[str, Any]
    identifiers: list[Ident]
    orders: int
    revenue: Decimal
    events: int
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    channels: list[str]

    def first(self, kind: str) -> str | None:
        return next((i.value for i in self.identifiers if i.kind == kind), None)

    @property
    def name(self) -> str | None:
        return name_of(self.traits)


def name_of(traits: dict[str, Any]) -> str | None:
    """A person's name from their traits: `name`, else first and last name."""
    if traits.get("name"):
        return str(traits["name"])
    first = traits.get("first_name") or traits.get("firstName")
    last = traits.get("last_name") or traits.get("lastName")
    full = " ".join(str(p) for p in (first, last) if p)
    return full or None


def root_id(session: Session, customer_id: str) -> str:
    """The surviving profile of an id, also when that id was merged away."""
    root = session.scalar(select(Profile.canonical_id).where(Profile.id == customer_id))
    if root is None:
        raise NotFound(f"no customer {customer_id}")
    return root


def _combine(root: Profile, members: list[Profile], idents: list[Identifier]) -> Customer:
    traits: dict[str, Any] = {}
    times: dict[str, str] = {}
    for member in sorted(members, key=lambda m: (m.created_at, m.id)):
        for name, value in (member.traits or {}).items():
            at = (member.trait_times or {}).get(name, "")
            if name not in times or at >= times[name]:
                traits[name] = value
                times[name] = at
    channels: dict[str, str] = {}
    for member in members:
        for channel, at in (member.channels or {}).items():
            channels[channel] = max(channels.get(channel, ""), at)
    firsts = [m.first_seen_at for m in members if m.first_seen_at]
    lasts = [m.last_seen_at for m in members if m.last_seen_at]
    ordered = sorted(
        (Ident(i.kind, i.value) for i in idents),
        key=lambda i: (ids.priority(i.kind), i.kind, i.value),
    )
    return Customer(
        id=root.id,
        created_at=root.created_at,
        member_ids=[m.id for m in members],
        traits=traits,
        identifiers=ordered,
        orders=sum(m.orders_count for m in members),
        revenue=sum((m.revenue for m in members), Decimal(0)),
        events=sum(m.events_count for m in members),
        first_seen_at=min(firsts) if firsts else None,
        last_seen_at=max(lasts) if lasts else None,
        channels=sorted(channels, key=lambda c: channels[c], reverse=True),
    )


def get_customer(session: Session, customer_id: str) -> Customer:
    """The customer an id belongs to (a merged-away id gives its survivor)."""
    root = root_id(session, customer_id)
    return load_customers(session, [root])[root]


def load_customers(session: Session, roots: list[str]) -> dict[str, Customer]:
    """Several customers in two queries (members, then identifiers)."""
    if not roots:
        return {}
    members = list(session.scalars(select(Profile).where(Profile.canonical_id.in_(roots))))
    member_ids = [m.id for m in members]
    idents = list(session.scalars(select(Identifier).where(Identifier.profile_id.in_(member_ids))))
    by_root: dict[str, list[Profile]] = {}
    for m in members:
        by_root.setdefault(m.canonical_id, []).append(m)
    owner_root = {m.id: m.canonical_id for m in members}
    idents_by_root: dict[str, list[Identifier]] = {}
    for i in idents:
        idents_by_root.setdefault(owner_root[i.profile_id], []).append(i)
    result = {}
    for root in roots:
        group = by_root.get(root, [])
        root_profile = next((m for m in group if m.id == root), None)
        if root_profile is None:
            continue
        result[root] = _combine(root_profile, group, idents_by_root.get(root, []))
    return result


def find_by_identifier(session: Session, ident: Ident) -> str | None:
    return session.scalar(
        select(Profile.canonical_id)
        .join(Identifier, Identifier.profile_id == Profile.id)
        .where(Identifier.key == ident.key)
    )


def search(
    session: Session,
    *,
    region: str,
    email: str | None = None,
    phone: str | None = None,
    user_id: str | None = None,
    identifier: str | None = None,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Customer], str | None]:
    """Customers matching every filter given, newest first, with a cursor for the next page."""
    wanted: list[Ident] = []
    for field, value in (
        (ids.EMAIL, email),
        (ids.PHONE, phone),
        (ids.USER_ID, user_id),
        ("identifier", identifier),
    ):
        if not value:
            continue
        try:
            if field == "identifier":
                wanted.append(ids.parse_ref(value, region=region))
            else:
                wanted.append(ids.normalise(field, value, region=region))
        except IdentifierError as exc:
            raise Invalid(f"{field}: {exc}", field=field) from None

    stmt = select(Profile.id, Profile.created_at).where(Profile.id == Profile.canonical_id)
    for ident in wanted:
        root = find_by_identifier(session, ident)
        if root is None:
            return [], None
        stmt = stmt.where(Profile.id == root)
    if q:
        needle = q.strip().lower()
        if len(needle) < 2:
            raise Invalid("q needs at least 2 characters", field="q")
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        matching = select(Profile.canonical_id).where(
            Profile.search_text.like(f"%{escaped}%", escape="\\")
        )
        stmt = stmt.where(Profile.id.in_(matching))
    if cursor:
        at, last_id = decode_cursor(cursor, size=2)
        at_dt = datetime.fromisoformat(at)
        stmt = stmt.where(
            or_(Profile.created_at < at_dt, and_(Profile.created_at == at_dt, Profile.id < last_id))
        )
    rows = session.execute(
        stmt.order_by(Profile.created_at.desc(), Profile.id.desc()).limit(limit + 1)
    ).all()
    page = rows[:limit]
    customers = load_customers(session, [r.id for r in page])
    next_cursor = None
    if len(rows) > limit and page:
        next_cursor = encode_cursor([page[-1].created_at.isoformat(), page[-1].id])
    return [customers[r.id] for r in page if r.id in customers], next_cursor


def parse_identifiers(
    pairs: list[tuple[str, str]], *, region: str, field: str = "identifiers"
) -> list[Ident]:
    result = []
    for index, (kind, value) in enumerate(pairs):
        try:
            result.append(ids.normalise(kind, value, region=region))
        except IdentifierError as exc:
            raise Invalid(f"{field}[{index}]: {exc}", field=f"{field}.{index}") from None
    return result


def create_customer(
    session: Session,
    *,
    clock: Clock,
    region: str,
    traits: dict[str, Any],
    identifiers: list[tuple[str, str]],
    limits: dict[str, int] | None = None,
) -> Resolution:
    """Add a customer by hand or from an integration. The same rules as every touchpoint apply:
    identifiers already known join their customer instead of making a duplicate."""
    idents = parse_identifiers(identifiers, region=region)
    obs = Observation(
        identifiers=idents, at=clock.now(), traits=traits, cause="api", counts_as_event=False
    )
    result = resolve_many(session, clock=clock, observations=[obs], limits=limits)[0]
    assert result is not None
    return result


def count_customers(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Profile).where(Profile.id == Profile.canonical_id)
        )
        or 0
    )
