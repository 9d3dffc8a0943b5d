"""Identity resolution: which customer does each observation belong to?

An observation is what one event, order, message or import row says about a person: its
identifiers, traits and time. `resolve_many` settles a whole batch with one lookup query, creates,
joins and merges profiles per the contract (section 3), and writes everything in bulk:

- identifiers that point at no profile create one; at one, join it; at several, merge them into
  the oldest — unless two carry different user ids: then nothing is merged, the observation joins
  the profile of its own user id (else of its highest-priority identifier) and the conflict is
  recorded;
- a device (`anonymous_id`) is weak evidence: an observation whose strong identifiers differ from
  those of the profile its device points at, and share none with it, is another person on a shared
  device and does not join that profile;
- per-kind limits: where joining or merging would exceed one, the lowest-priority identifiers of the
  observation are set aside, one at a time, and matching runs again on the rest;
- traits follow event time: an older value never overwrites a newer one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from phygital.core.clock import Clock
from phygital.core.events import publish
from phygital.db import execute_many, new_id
from phygital.identity.identifiers import (
    ANONYMOUS_ID,
    EMAIL,
    LOYALTY_CARD,
    PHONE,
    USER_ID,
    Ident,
    priority,
)
from phygital.identity.models import Identifier, IdentityConflict, MergeRecord, Profile

_P_TABLE = Profile.__table__
_I_TABLE = Identifier.__table__
_P = _P_TABLE.c
_I = _I_TABLE.c

DEFAULT_LIMITS: dict[str, int] = {
    USER_ID: 1,
    EMAIL: 5,
    PHONE: 5,
    LOYALTY_CARD: 5,
    ANONYMOUS_ID: 50,
}
EXTERNAL_LIMIT = 5
NAME_TRAITS = ("name", "first_name", "last_name", "firstName", "lastName")

# Every writer of identity takes this lock on PostgreSQL (SQLite serialises writers itself), so
# two transactions never create two profiles for the same new e-mail at once.
_PG_IDENTITY_LOCK = 7_216_551_002


def lock_identity(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_IDENTITY_LOCK})


@dataclass
class Observation:
    """What one thing seen says about a person."""

    # The first user id listed is the observation's own (an alias lists its previous id after).
    identifiers: list[Ident]
    at: datetime
    traits: dict[str, Any] = field(default_factory=dict)
    channel: str | None = None
    cause: str = "event"  # event, alias, import, order, api
    ref: str = ""  # e.g. the message id, for the merge log
    counts_as_event: bool = True
    # An order of this amount (commerce): the member's order counters, first/last seen times
    # and channels move with it, in the same bulk write as the identity.
    order_amount: Decimal | None = None


@dataclass(frozen=True)
class Resolution:
    """The member profile the observation was attached to, and its customer (cluster root)."""

    profile_id: str
    customer_id: str
    created: bool = False


def limit_for(kind: str, limits: dict[str, int]) -> int:
    return limits.get(kind, EXTERNAL_LIMIT)


@dataclass
class _ProfileState:
    id: str
    created_at: datetime
    canonical_id: str
    merged_into_id: str | None
    traits: dict[str, Any]
    trait_times: dict[str, Any]
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    channels: dict[str, Any]
    events_count: int
    idents: list[Ident]
    new: bool = False
    # The columns to write back (an update writes only these: most events move the counters
    # and channels of a profile, not its traits).
    changed: set[str] = field(default_factory=set)
    merged_at: datetime | None = None
    # Orders observed in this batch: added to the stored counters (an increment, so a
    # concurrent cancellation is never overwritten).
    orders_added: int = 0
    revenue_added: Decimal = Decimal(0)


class ResolutionBatch:
    """In-memory view of the profiles a batch touches, written back in bulk by `flush()`."""

    def __init__(
        self, session: Session, *, clock: Clock, limits: dict[str, int] | None = None
    ) -> None:
        self.session = session
        self.clock = clock
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        self.owner: dict[str, str] = {}  # identifier key -> member profile id
        self.profiles: dict[str, _ProfileState] = {}
        self.members: dict[str, set[str]] = {}  # root -> member ids (root included)
        self.new_identifiers: list[dict[str, Any]] = []
        self.merges: list[dict[str, Any]] = []
        self.conflicts: list[dict[str, Any]] = []

    # -- loading ---------------------------------------------------------------------------

    def load(self, idents: Iterable[Ident]) -> None:
        """One query for the identifiers, one for the profiles of their clusters. (Table
        columns, not ORM attributes: a batch reads thousands of rows, and the ORM's row
        handling cost more than the queries.)"""
        keys = {i.key for i in idents} - self.owner.keys()
        if not keys:
            return
        roots: set[str] = set()
        for chunk in _chunks(sorted(keys), 900):
            rows = self.session.execute(
                select(_P.canonical_id)
                .join(_I_TABLE, _P.id == _I.profile_id)
                .where(_I.key.in_(chunk))
            )
            roots.update(r[0] for r in rows)
        self._load_clusters(roots - self.members.keys())

    def _load_clusters(self, roots: set[str]) -> None:
        if not roots:
            return
        for chunk in _chunks(sorted(roots), 900):
            profile_rows = self.session.execute(
                select(
                    _P.id,
                    _P.created_at,
                    _P.canonical_id,
                    _P.merged_into_id,
                    _P.traits,
                    _P.trait_times,
                    _P.first_seen_at,
                    _P.last_seen_at,
                    _P.channels,
                    _P.events_count,
                ).where(_P.canonical_id.in_(chunk))
            )
            for (
                pid,
                created_at,
                canonical_id,
                merged_into_id,
                traits,
                trait_times,
                first_seen_at,
                last_seen_at,
                channels,
                events_count,
            ) in profile_rows:
                self.profiles[pid] = _ProfileState(
                    id=pid,
                    created_at=created_at,
                    canonical_id=canonical_id,
                    merged_into_id=merged_into_id,
                    # Each row's JSON is decoded into new objects: no copy needed.
                    traits=traits or {},
                    trait_times=trait_times or {},
                    first_seen_at=first_seen_at,
                    last_seen_at=last_seen_at,
                    channels=channels or {},
                    events_count=events_count,
                    idents=[],
                )
                self.members.setdefault(canonical_id, set()).add(pid)
            ident_rows = self.session.execute(
                select(_I.profile_id, _I.kind, _I.value, _I.key)
                .join(_P_TABLE, _P.id == _I.profile_id)
                .where(_P.canonical_id.in_(chunk))
            )
            for profile_id, kind, value, key in ident_rows:
                self.owner[key] = profile_id
                self.profiles[profile_id].idents.append(Ident(kind, value))

    # -- queries on the in-memory state ------------------------------------------------------

    def root_of(self, key: str) -> str | None:
        member = self.owner.get(key)
        return self.profiles[member].canonical_id if member else None

    def cluster_idents(self, root: str) -> list[Ident]:
        return [i for m in self.members[root] for i in self.profiles[m].idents]

    def _values_by_kind(self, roots: Iterable[str], extra: Iterable[Ident]) -> dict[str, set[str]]:
        kinds: dict[str, set[str]] = {}
        for root in roots:
            for ident in self.cluster_idents(root):
                kinds.setdefault(ident.kind, set()).add(ident.value)
        for ident in extra:
            kinds.setdefault(ident.kind, set()).add(ident.value)
        return kinds

    # -- the rules ------------------------------------------------------------------------------

    def resolve(self, obs: Observation) -> Resolution | None:
        active = sorted(set(obs.identifiers), key=_rank)
        if not active:
            return None
        quick = self._quick(obs, active)
        if quick is not None:
            return quick
        while True:
            roots = self._candidate_roots(active)
            user_ids = self._values_by_kind(roots, [i for i in active if i.kind == USER_ID]).get(
                USER_ID, set()
            )
            if len(user_ids) > 1:
                return self._resolve_conflict(obs, active, roots)
            unowned = [i for i in active if i.key not in self.owner]
            kinds = self._values_by_kind(roots, unowned)
            over = [k for k, values in kinds.items() if len(values) > limit_for(k, self.limits)]
            if over and len(active) > 1:
                active = active[:-1]  # set aside the lowest-priority identifier, match again
                continue
            if over:
                # Even alone this identifier cannot join its profile (e.g. a device already
                # seen with 50 others): it becomes a profile of its own only if it is new.
                unowned = []
            return self._attach(obs, active, roots, unowned)

    def _quick(self, obs: Observation, active: list[Ident]) -> Resolution | None:
        """The two common cases, decided without the general rules (which give the same answer
        for them): every identifier already in one customer (a known person: nothing to merge
        or add), or none known at all and none over its
        kind's limit (a new person). None: anything else."""
        owner = self.owner
        owners = [owner.get(i[2]) for i in active]
        if None not in owners:
            roots = {self.profiles[o].canonical_id for o in owners if o is not None}
            if len(roots) != 1:
                return None
            root = roots.pop()
            # The rules never put two user ids in one customer, but data from elsewhere might:
            # that is the general rules' case (a conflict), not this one.
            if sum(1 for i in self.cluster_idents(root) if i[0] == USER_ID) > 1:
                return None
            return self._attach(obs, active, [root], [])
        if any(o is not None for o in owners):
            return None
        counts: dict[str, int] = {}
        for ident in active:
            counts[ident[0]] = counts.get(ident[0], 0) + 1
        if counts.get(USER_ID, 0) > 1 or any(
            n > limit_for(kind, self.limits) for kind, n in counts.items()
        ):
            return None
        return self._attach(obs, active, [], active)

    def _candidate_roots(self, active: list[Ident]) -> list[str]:
        strong = {i.key for i in active if i.strong}
        roots: list[str] = []
        for ident in active:
            root = self.root_of(ident.key)
            if root is None or root in roots:
                continue
            if ident.kind == ANONYMOUS_ID:
                cluster_strong = {i.key for i in self.cluster_idents(root) if i.strong}
                if cluster_strong and strong and not (cluster_strong & strong):
                    continue  # another person on a shared device
                # An observation of devices alone is tied to the first person they lead to: a
                # second device leading to someone else must not fuse the two.
                strong |= cluster_strong
            roots.append(root)
        return roots

    def _resolve_conflict(
        self, obs: Observation, active: list[Ident], roots: list[str]
    ) -> Resolution:
        own_user = next((i for i in obs.identifiers if i.kind == USER_ID), None)
        target_root: str | None = None
        if own_user is not None:
            target_root = self.root_of(own_user.key)
        if target_root is None and own_user is None:
            target_root = next((self.root_of(i.key) for i in active if i.key in self.owner), None)
        others = [r for r in roots if r != target_root]
        self.conflicts.append(
            {
                "id": new_id(),
                "profile_id": target_root or "",
                "other_profile_ids": {"ids": others},
                "identifiers": {"items": [i.as_dict() for i in active]},
                "reason": "identifiers point at customers with different user ids",
                "at": obs.at,
            }
        )
        # Keep only what does not reach into the other customers (nor another user id), then
        # attach without merging.
        keep = [
            i
            for i in active
            if (i.key not in self.owner or self.root_of(i.key) == target_root)
            and (i.kind != USER_ID or i == own_user)
        ]
        target_roots = [target_root] if target_root else []
        unowned = [i for i in keep if i.key not in self.owner]
        kinds = self._values_by_kind(target_roots, unowned)
        unowned = [i for i in unowned if len(kinds[i.kind]) <= limit_for(i.kind, self.limits)]
        resolution = self._attach(obs, keep, target_roots, unowned)
        if not self.conflicts[-1]["profile_id"]:
            self.conflicts[-1]["profile_id"] = resolution.customer_id
        return resolution

    def _attach(
        self, obs: Observation, active: list[Ident], roots: list[str], unowned: list[Ident]
    ) -> Resolution:
        created = False
        if not roots:
            member = self._new_profile(obs.at)
            root = member.id
            created = True
        else:
            root = roots[0] if len(roots) == 1 else self._merge(roots, obs, active)
            # The event belongs to the member owning its most important identifier.
            member_id = next(
                (
                    self.owner[i.key]
                    for i in active
                    if i.key in self.owner and self.root_of(i.key) == root
                ),
                root,
            )
            member = self.profiles[member_id]
        for ident in unowned:
            if ident.key in self.owner:
                continue
            self.owner[ident.key] = member.id
            member.idents.append(ident)
            self.new_identifiers.append(
                {
                    "id": new_id(),
                    "profile_id": member.id,
                    "kind": ident.kind,
                    "value": ident.value,
                    "key": ident.key,
                    "first_seen_at": obs.at,
                    "origin": obs.cause,
                }
            )
            member.changed.add("search_text")
        self._observe(member, obs)
        return Resolution(profile_id=member.id, customer_id=root, created=created)

    def _new_profile(self, at: datetime) -> _ProfileState:
        pid = new_id()
        state = _ProfileState(
            id=pid,
            created_at=self.clock.now(),
            canonical_id=pid,
            merged_into_id=None,
            traits={},
            trait_times={},
            first_seen_at=None,
            last_seen_at=None,
            channels={},
            events_count=0,
            idents=[],
            new=True,
        )
        self.profiles[pid] = state
        self.members[pid] = {pid}
        return state

    def _merge(self, roots: list[str], obs: Observation, active: list[Ident]) -> str:
        survivor = min(roots, key=lambda r: (self.profiles[r].created_at, r))
        now = self.clock.now()
        linking = [i.as_dict() for i in active if i.key in self.owner]
        for root in roots:
            if root == survivor:
                continue
            moved = self.members.pop(root)
            for member_id in moved:
                state = self.profiles[member_id]
                state.canonical_id = survivor
                state.changed.add("canonical_id")
            merged_root = self.profiles[root]
            merged_root.merged_into_id = survivor
            merged_root.merged_at = now
            merged_root.changed.update(("merged_into_id", "merged_at"))
            self.members[survivor] |= moved
            self.merges.append(
                {
                    "id": new_id(),
                    "survivor_id": survivor,
                    "merged_id": root,
                    "cause": obs.cause,
                    "detail": {"ref": obs.ref, "identifiers": linking},
                    "at": now,
                }
            )
        return survivor

    def _observe(self, member: _ProfileState, obs: Observation) -> None:
        at_iso = stamp(obs.at)
        for name, value in obs.traits.items():
            previous = member.trait_times.get(name)
            newer = previous is None or previous <= at_iso
            if newer and (member.traits.get(name) != value or previous != at_iso):
                member.traits[name] = value
                member.trait_times[name] = at_iso
                member.changed.update(_TRAIT_COLUMNS)
        if obs.counts_as_event or obs.order_amount is not None:
            if obs.counts_as_event:
                member.events_count += 1
            else:
                member.orders_added += 1
                member.revenue_added += obs.order_amount or 0
            if member.first_seen_at is None or obs.at < member.first_seen_at:
                member.first_seen_at = obs.at
            if member.last_seen_at is None or obs.at > member.last_seen_at:
                member.last_seen_at = obs.at
            if obs.channel:
                seen = member.channels.get(obs.channel)
                if seen is None or seen < at_iso:
                    member.channels[obs.channel] = at_iso
            member.changed.update(_STATS_COLUMNS)

    # -- writing back ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write new profiles, identifiers, changed profiles, merges and conflicts in bulk."""
        now = self.clock.now()
        new_rows = []
        changed = []
        for p in self.profiles.values():
            if p.new:
                new_rows.append(
                    {
                        "id": p.id,
                        "created_at": p.created_at,
                        # Created and merged away in this same batch: merged now.
                        "merged_at": p.merged_at,
                        "orders_count": p.orders_added,
                        "revenue": p.revenue_added,
                        "canonical_id": p.canonical_id,
                        "merged_into_id": p.merged_into_id,
                        "traits": p.traits,
                        "trait_times": p.trait_times,
                        "search_text": search_text(p.traits, p.idents),
                        "first_seen_at": p.first_seen_at,
                        "last_seen_at": p.last_seen_at,
                        "channels": p.channels,
                        "events_count": p.events_count,
                        "updated_at": now,
                    }
                )
            elif p.changed:
                row: dict[str, Any] = {"b_id": p.id, "updated_at": now}
                for column in p.changed:
                    row[column] = (
                        search_text(p.traits, p.idents)
                        if column == "search_text"
                        else getattr(p, column)
                    )
                if p.orders_added:
                    row["d_orders"] = p.orders_added
                    row["d_revenue"] = p.revenue_added
                changed.append(row)
            else:
                continue
            p.new = False
            p.changed = set()
            p.orders_added = 0
            p.revenue_added = Decimal(0)
        session = self.session
        if new_rows:
            execute_many(session, insert(_P_TABLE), new_rows, cache_key="profiles.insert")  # type: ignore[arg-type]
        if self.new_identifiers:
            execute_many(
                session,
                insert(_I_TABLE),  # type: ignore[arg-type]
                self.new_identifiers,
                cache_key="identifiers.insert",
            )
            self.new_identifiers = []
        if changed:
            # Group by column set: executemany needs the same keys in every row.
            by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for row in changed:
                by_keys.setdefault(tuple(sorted(row)), []).append(row)
            table = Profile.__table__
            for keys, rows in by_keys.items():
                values: dict[str, Any] = {
                    k: bindparam(k) for k in keys if k not in ("b_id", "d_orders", "d_revenue")
                }
                if "d_orders" in keys:
                    values["orders_count"] = table.c.orders_count + bindparam("d_orders")
                    values["revenue"] = table.c.revenue + bindparam(
                        "d_revenue", type_=table.c.revenue.type
                    )
                stmt = (
                    update(table)  # type: ignore[arg-type]
                    .where(table.c.id == bindparam("b_id"))
                    .values(values)
                )
                execute_many(session, stmt, rows, cache_key="profiles.update")
        if self.merges:
            execute_many(session, insert(MergeRecord.__table__), self.merges)  # type: ignore[arg-type]
            self.merges = []
        if self.conflicts:
            execute_many(session, insert(IdentityConflict.__table__), self.conflicts)  # type: ignore[arg-type]
            self.conflicts = []


def _rank(ident: Ident) -> tuple[int, str, str]:
    return (priority(ident[0]), ident[0], ident[1])


_TRAIT_COLUMNS = ("traits", "trait_times", "search_text")
_STATS_COLUMNS = ("events_count", "first_seen_at", "last_seen_at", "channels")


def stamp(at: datetime) -> str:
    """A fixed-width UTC time, so stored trait and channel times compare as strings."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def search_text(traits: dict[str, Any], idents: list[Ident]) -> str:
    parts = [str(traits[k]) for k in NAME_TRAITS if traits.get(k)]
    parts += [i.value for i in idents if i.kind in (EMAIL, PHONE, LOYALTY_CARD, USER_ID)]
    return " ".join(parts).lower()[:2000]


def resolve_many(
    session: Session,
    *,
    clock: Clock,
    observations: list[Observation],
    limits: dict[str, int] | None = None,
) -> list[Resolution | None]:
    """Resolve a batch of observations in order; one lookup for the whole batch."""
    lock_identity(session)
    batch = ResolutionBatch(session, clock=clock, limits=limits)
    batch.load(i for obs in observations for i in obs.identifiers)
    results = [batch.resolve(obs) for obs in observations]
    merged = sorted({batch.profiles[m["survivor_id"]].canonical_id for m in batch.merges})
    batch.flush()
    if merged:
        # Joining profiles may join research to a purchase (journeys listen).
        publish(session, "identity.changed", clock=clock, customer_ids=merged)
    return results


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
