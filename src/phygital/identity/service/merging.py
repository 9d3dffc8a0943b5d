"""Explicit merge and unmerge: a person says two customers are one, or undoes a merge; and the
history of a customer's merges."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from phygital.core.clock import Clock
from phygital.core.errors import Conflict, NotFound
from phygital.core.events import publish
from phygital.db import new_id
from phygital.identity import identifiers as ids
from phygital.identity.models import MergeRecord, Profile
from phygital.identity.resolution import DEFAULT_LIMITS, limit_for, lock_identity
from phygital.identity.service.customers import load_customers, root_id
from phygital.privacy.audit import audit


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
