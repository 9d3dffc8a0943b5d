"""Customers: the cluster view of profiles, search, creation, explicit merge and unmerge."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from phygital.core.clock import Clock
from phygital.core.errors import Conflict, Invalid, NotFound
from phygital.core.events import publish
from phygital.core.pagination import decode_cursor, encode_cursor
from phygital.db import new_id
from phygital.identity import identifiers as ids
from phygital.identity.identifiers import Ident, IdentifierError
from phygital.identity.models import Identifier, MergeRecord, Profile
from phygital.identity.resolution import (
    DEFAULT_LIMITS,
    NAME_TRAITS,
    Observation,
    Resolution,
    limit_for,
    lock_identity,
    resolve_many,
    search_text,
)
from phygital.privacy.audit import audit


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


def merge(
    session: Session,
    *,
    clock: Clock,
    customer_id: str,
    other_id: str,
    by: str,
    limits: dict[str, int] | None = None,
) -> str:
    """A person says two customers are one: merge into the older. Refused (409) when they carry
    different user ids or would exceed a per-kind limit. Returns the surviving id."""
    lock_identity(session)
    a, b = root_id(session, customer_id), root_id(session, other_id)
    if a == b:
        return a
    both = load_customers(session, [a, b])
    kinds: dict[str, set[str]] = {}
    for customer in both.values():
        for ident in customer.identifiers:
            kinds.setdefault(ident.kind, set()).add(ident.value)
    if len(kinds.get(ids.USER_ID, set())) > 1:
        raise Conflict("these customers have different user ids: they are different people")
    effective = {**DEFAULT_LIMITS, **(limits or {})}
    over = [k for k, v in kinds.items() if len(v) > limit_for(k, effective)]
    if over:
        raise Conflict(f"merging would exceed the limit of identifiers of kind {over[0]}")
    survivor, merged = sorted((both[a], both[b]), key=lambda c: (c.created_at, c.id))
    now = clock.now()
    session.execute(
        update(Profile).where(Profile.canonical_id == merged.id).values(canonical_id=survivor.id)
    )
    session.execute(
        update(Profile)
        .where(Profile.id == merged.id)
        .values(merged_into_id=survivor.id, merged_at=now)
    )
    session.add(
        MergeRecord(
            id=new_id(),
            survivor_id=survivor.id,
            merged_id=merged.id,
            cause="manual",
            detail={"by": by},
            at=now,
        )
    )
    audit(
        session,
        clock=clock,
        actor=by,
        action="merge",
        subject=survivor.id,
        detail={"merged_id": merged.id},
    )
    session.flush()
    publish(session, "identity.changed", clock=clock, customer_ids=[survivor.id])
    return survivor.id


def unmerge(session: Session, *, clock: Clock, customer_id: str, other_id: str, by: str) -> str:
    """Undo the merge that brought `other_id` into this customer: it becomes a customer again
    with the identifiers, traits and events it brought (and anything merged into it before)."""
    lock_identity(session)
    root = root_id(session, customer_id)
    other = session.get(Profile, other_id)
    if other is None or other.canonical_id != root:
        raise NotFound(f"profile {other_id} is not part of customer {root}", field="other_id")
    if other.merged_into_id is None:
        raise Conflict(
            f"{other_id} is the surviving profile; unmerge the other one", field="other_id"
        )
    record = session.scalar(
        select(MergeRecord)
        .where(MergeRecord.merged_id == other_id, MergeRecord.undone_at.is_(None))
        .order_by(MergeRecord.at.desc())
    )
    now = clock.now()
    other.merged_into_id = None
    other.merged_at = None
    members = list(session.scalars(select(Profile).where(Profile.canonical_id == root)))
    parent = {m.id: m.merged_into_id for m in members}
    for member in members:
        top = member.id
        while parent.get(top):
            top = parent[top]  # type: ignore[assignment]
        member.canonical_id = top
    if record is not None:
        record.undone_at = now
        record.undone_by = by
    audit(
        session,
        clock=clock,
        actor=by,
        action="unmerge",
        subject=root,
        detail={"restored_id": other_id},
    )
    session.flush()
    publish(session, "identity.changed", clock=clock, customer_ids=[root, other_id])
    return other_id


def merge_history(session: Session, *, customer_id: str) -> list[MergeRecord]:
    root = root_id(session, customer_id)
    member_ids = select(Profile.id).where(Profile.canonical_id == root)
    return list(
        session.scalars(
            select(MergeRecord)
            .where(
                or_(MergeRecord.survivor_id.in_(member_ids), MergeRecord.merged_id.in_(member_ids))
            )
            .order_by(MergeRecord.at.desc())
        )
    )


@dataclass(frozen=True)
class OrderFact:
    """What commerce tells identity about an order of a member profile (new orders count
    through resolution: `Observation.order_amount`)."""

    profile_id: str
    amount: Decimal
    at: datetime
    channel: str | None


def forget_orders(session: Session, *, facts: list[OrderFact]) -> None:
    """Take cancelled orders out of the members' counters (times and channels stay: the
    person was seen then). In SQL, so a counter another transaction moves meanwhile keeps
    its move."""
    for fact in facts:
        session.execute(
            update(Profile)
            .where(Profile.id == fact.profile_id)
            .values(
                orders_count=case((Profile.orders_count > 0, Profile.orders_count - 1), else_=0),
                revenue=func.coalesce(Profile.revenue, 0) - fact.amount,
            )
        )


def revise_order_amount(session: Session, *, profile_id: str, delta: Decimal) -> None:
    """An order of this member profile changed its total (the shop edited its lines): the
    revenue follows; the order still counts once."""
    if delta:
        session.execute(
            update(Profile)
            .where(Profile.id == profile_id)
            .values(revenue=func.coalesce(Profile.revenue, 0) + delta)
        )


def roots_of(session: Session, member_ids: Iterable[str]) -> dict[str, str]:
    """The customer (cluster root) of each member profile, in one query."""
    wanted = sorted(set(member_ids))
    result: dict[str, str] = {}
    for start in range(0, len(wanted), 900):
        chunk = wanted[start : start + 900]
        rows = session.execute(
            select(Profile.id, Profile.canonical_id).where(Profile.id.in_(chunk))
        )
        result.update({member: root for member, root in rows})
    return result


def identifier_values(session: Session, member_ids: list[str]) -> list[str]:
    """The identifier values of these member profiles (e-mails, phones, cards, ids): what an
    eraser searches for in text it cannot otherwise tie to the person."""
    if not member_ids:
        return []
    return list(
        session.scalars(select(Identifier.value).where(Identifier.profile_id.in_(member_ids)))
    )


def member_ids_of(session: Session, customer_ids: Iterable[str]) -> dict[str, list[str]]:
    """Every member profile of each customer (root id -> member ids), in one query."""
    wanted = sorted(set(customer_ids))
    result: dict[str, list[str]] = {root: [] for root in wanted}
    if wanted:
        rows = session.execute(
            select(Profile.id, Profile.canonical_id).where(Profile.canonical_id.in_(wanted))
        )
        for member, root in rows:
            result[root].append(member)
    return result


def refresh_search_text(session: Session, *, profile_id: str) -> None:
    profile = session.get(Profile, profile_id)
    if profile is None:
        return
    idents = [
        Ident(i.kind, i.value)
        for i in session.scalars(select(Identifier).where(Identifier.profile_id == profile_id))
    ]
    profile.search_text = search_text(profile.traits or {}, idents)


def count_customers(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Profile).where(Profile.id == Profile.canonical_id)
        )
        or 0
    )


# -- contacts: the light read for lists of orders --------------------------------------------


@dataclass(frozen=True)
class Contact:
    """How to greet and reach a customer: the cluster's name, its first e-mail and phone (in
    the order `Customer.first` picks them) and its member profiles. What a list of orders
    needs, without traits history, counters or every identifier."""

    id: str
    member_ids: list[str]
    name: str | None
    email: str | None
    phone: str | None

    def first(self, kind: str) -> str | None:
        """As `Customer.first`, for the e-mail and the phone a contact carries (templates
        greet either the same way)."""
        return self.email if kind == ids.EMAIL else self.phone if kind == ids.PHONE else None


def contacts_of(session: Session, profile_ids: Iterable[str]) -> dict[str, Contact]:
    """The customer of each of these member profiles (by profile id) as a `Contact`, in one
    query: every member of their clusters with its e-mails and phones."""
    wanted = sorted(set(profile_ids))
    members: dict[str, tuple[str, datetime, dict[str, Any], dict[str, Any]]] = {}
    contacts: dict[str, dict[str, set[str]]] = {}
    for start in range(0, len(wanted), 900):
        rows = session.execute(_contacts_statement(), {"ids": wanted[start : start + 900]})
        for member_id, root, created_at, traits, times, kind, value in rows:
            members[member_id] = (root, created_at, traits or {}, times or {})
            found = contacts.setdefault(root, {ids.EMAIL: set(), ids.PHONE: set()})
            if kind is not None:
                found[kind].add(value)
    by_root: dict[str, list[tuple[datetime, str, dict[str, Any], dict[str, Any]]]] = {}
    for member_id, (root, created_at, traits, times) in members.items():
        by_root.setdefault(root, []).append((created_at, member_id, traits, times))
    result: dict[str, Contact] = {}
    for root, group in by_root.items():
        if root not in members:
            continue  # no surviving profile: no customer (as in `load_customers`)
        kept: dict[str, Any] = {}
        kept_at: dict[str, str] = {}
        # The newest value of each trait across members, as `Customer.traits` has it.
        for _, _, traits, times in sorted(group, key=lambda m: (m[0], m[1])):
            for name in NAME_TRAITS:
                if name in traits:
                    at = times.get(name, "")
                    if name not in kept_at or at >= kept_at[name]:
                        kept[name], kept_at[name] = traits[name], at
        found = contacts[root]
        result[root] = Contact(
            id=root,
            member_ids=[member_id for _, member_id, _, _ in group],
            name=name_of(kept),
            email=min(found[ids.EMAIL], default=None),
            phone=min(found[ids.PHONE], default=None),
        )
    return {
        profile_id: result[members[profile_id][0]]
        for profile_id in wanted
        if profile_id in members and members[profile_id][0] in result
    }


@cache
def _contacts_statement() -> Select[Any]:
    """Built once (reused with its parameters): the members of the clusters of `ids`, each
    with its e-mails and phones (a member without any: one row with no identifier)."""
    member = aliased(Profile)
    clusters = select(Profile.canonical_id).where(Profile.id.in_(bindparam("ids", expanding=True)))
    return (
        select(
            member.id,
            member.canonical_id,
            member.created_at,
            member.traits,
            member.trait_times,
            Identifier.kind,
            Identifier.value,
        )
        .outerjoin(
            Identifier,
            and_(Identifier.profile_id == member.id, Identifier.kind.in_((ids.EMAIL, ids.PHONE))),
        )
        .where(member.canonical_id.in_(clusters))
    )
