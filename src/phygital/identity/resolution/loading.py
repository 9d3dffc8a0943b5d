"""The in-memory state of a batch: the profiles it touches (`_ProfileState`), loaded with their
clusters in two queries per chunk, and the lookups the rules make on them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from phygital.core.clock import Clock
from phygital.identity.identifiers import Ident
from phygital.identity.models import Identifier, Profile
from phygital.identity.resolution.observations import DEFAULT_LIMITS

_P_TABLE = Profile.__table__
_I_TABLE = Identifier.__table__
_P = _P_TABLE.c
_I = _I_TABLE.c


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


class _BatchState:
    """What a `ResolutionBatch` holds, and how it fills and reads it."""

    def __init__(
        self, session: Session, *, clock: Clock, limits: dict[str, int] | None = None
    ) -> None:
        self.session = session
        self.clock = clock
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        self.owner: dict[str, str] = {}  # identifier key -> member profile id
        self.profiles: dict[str, _ProfileState] = {}
        self.members: dict[str, set[str]] = {}  # root -> member ids (root included)
        # The profiles this batch created or changed: what `flush` writes (a carried batch
        # holds many more profiles than it touches).
        self.touched: dict[str, _ProfileState] = {}
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


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
