"""A batch of observations resolved together: the identity lock every writer takes,
`ResolutionBatch` (its state, rules and writing from the sibling modules), and `resolve_many`."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import text
from sqlalchemy.orm import Session

from phygital.core.clock import Clock
from phygital.core.events import publish
from phygital.identity.resolution.carry import IdentityCarry
from phygital.identity.resolution.observations import Observation, Resolution
from phygital.identity.resolution.rules import _BatchRules
from phygital.identity.resolution.writing import _BatchWriting

# Every writer of identity takes this lock on PostgreSQL (SQLite serialises writers itself), so
# two transactions never create two profiles for the same new e-mail at once.
_PG_IDENTITY_LOCK = 7_216_551_002


def lock_identity(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_IDENTITY_LOCK})


class ResolutionBatch(_BatchRules, _BatchWriting):
    """In-memory view of the profiles a batch touches, written back in bulk by `flush()`."""


def resolve_many(
    session: Session,
    *,
    clock: Clock,
    observations: list[Observation],
    limits: dict[str, int] | None = None,
    carry: IdentityCarry | None = None,
) -> list[Resolution | None]:
    """Resolve a batch of observations in order; one lookup for the whole batch. A bulk job
    passes the same `carry` to each of its batches (see `IdentityCarry`; nothing else in the
    transaction may change identity after this call)."""
    lock_identity(session)
    batch = ResolutionBatch(session, clock=clock, limits=limits)
    if carry is not None:
        held = carry.take(session, limits=batch.limits)
        if isinstance(held, ResolutionBatch):
            batch = held
            batch.clock = clock
    batch.load(i for obs in observations for i in obs.identifiers)
    results = _settled(batch, [batch.resolve(obs) for obs in observations])
    merged = sorted({batch.profiles[m["survivor_id"]].canonical_id for m in batch.merges})
    batch.flush()
    if carry is not None:
        carry.hold(session, batch)
    if merged:
        # Joining profiles may join research to a purchase (journeys listen).
        publish(session, "identity.changed", clock=clock, customer_ids=merged)
    return results


def _settled(batch: ResolutionBatch, results: list[Resolution | None]) -> list[Resolution | None]:
    """Each resolution with its customer as it stands at the end of the batch (a later
    observation may have merged it into another) and whether the batch created all of it."""
    created = {r.profile_id for r in results if r is not None and r.created}
    settled: list[Resolution | None] = []
    for r in results:
        if r is not None:
            root = batch.profiles[r.profile_id].canonical_id
            new_customer = batch.members[root] <= created
            if root != r.customer_id or new_customer:
                r = replace(r, customer_id=root, new_customer=new_customer)
        settled.append(r)
    return settled
