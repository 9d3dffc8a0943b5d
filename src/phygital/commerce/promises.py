"""Promises: what the company told a customer it would do, by when, and whether it did.

Click & collect writes one per pickup (ready by `promised_ready_at`); later capabilities write
call-backs and deliveries through `make`. A promise is kept when `resolve` is called by its due
time, broken when called later or when its due time passes while it is open (a job scheduled at
the due time records that, and `kept_rates` counts an open promise past due as broken anyway, so
a late worker never flatters the figure).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from phygital.commerce.models import Promise, PromiseKind, PromiseStatus, Store
from phygital.commerce.schemas import PromiseRate
from phygital.core.clock import Clock
from phygital.core.jobs import JobContext, enqueue, job_handler

CHECK_JOB = "commerce.promise_due"


def make(
    session: Session,
    *,
    clock: Clock,
    kind: PromiseKind,
    subject: str,
    due_at: datetime,
    store_id: str | None = None,
    channel: str | None = None,
    profile_id: str | None = None,
    made_at: datetime | None = None,
) -> Promise:
    """Record a promise and schedule the check at its due time."""
    promise = Promise(
        kind=kind,
        subject=subject,
        due_at=due_at,
        store_id=store_id,
        channel=channel,
        profile_id=profile_id,
        made_at=made_at or clock.now(),
        status=PromiseStatus.OPEN,
    )
    session.add(promise)
    session.flush()
    enqueue(session, clock=clock, name=CHECK_JOB, payload={"id": promise.id}, run_at=due_at)
    return promise


def resolve(session: Session, *, subject: str, kind: PromiseKind, at: datetime) -> None:
    """The promised thing happened at `at`: kept if by the due time, else broken."""
    for promise in session.scalars(
        select(Promise).where(Promise.subject == subject, Promise.kind == kind)
    ):
        if promise.status == PromiseStatus.OPEN or (
            promise.status == PromiseStatus.BROKEN and promise.resolved_at == promise.due_at
        ):
            # Broken "by the clock" stays broken; record when it was finally done.
            promise.status = PromiseStatus.KEPT if at <= promise.due_at else PromiseStatus.BROKEN
            promise.resolved_at = at


def cancel(session: Session, *, subject: str, at: datetime) -> None:
    """The thing promised was called off (an order cancelled): neither kept nor broken."""
    session.execute(
        update(Promise)
        .where(Promise.subject == subject, Promise.status == PromiseStatus.OPEN)
        .values(status=PromiseStatus.CANCELLED, resolved_at=at, updated_at=at)
    )


def attach(session: Session, *, subject: str, profile_id: str) -> None:
    """The customer of a promise became known later (a guest order the shop now names) or is
    another person (the shop changed the order's customer): the promise is theirs, as if made
    to them."""
    session.execute(update(Promise).where(Promise.subject == subject).values(profile_id=profile_id))


def for_subjects(session: Session, subjects: list[str]) -> dict[str, Promise]:
    if not subjects:
        return {}
    rows = session.scalars(select(Promise).where(Promise.subject.in_(subjects)))
    return {p.subject: p for p in rows}


@job_handler(CHECK_JOB)
def _check_due(ctx: JobContext, payload: dict[str, str]) -> None:
    promise = ctx.session.get(Promise, payload["id"])
    if promise is None or promise.status != PromiseStatus.OPEN:
        return
    if ctx.clock.now() >= promise.due_at:
        promise.status = PromiseStatus.BROKEN
        promise.resolved_at = promise.due_at


def kept_rates(
    session: Session,
    *,
    now: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
    store_id: str | None = None,
    kind: PromiseKind | None = None,
) -> list[PromiseRate]:
    """Promises due in [start, end) that are settled, kept or broken, per store, channel and
    kind. An open promise past its due time counts as broken; one not yet due is not counted."""
    broken = or_(
        Promise.status == PromiseStatus.BROKEN,
        (Promise.status == PromiseStatus.OPEN) & (Promise.due_at < now),
    )
    kept = Promise.status == PromiseStatus.KEPT
    stmt = (
        select(
            Store.code,
            Promise.channel,
            Promise.kind,
            func.sum(case((kept, 1), else_=0)),
            func.sum(case((broken, 1), else_=0)),
        )
        .outerjoin(Store, Store.id == Promise.store_id)
        .where(or_(kept, broken))
        .group_by(Store.code, Promise.channel, Promise.kind)
        .order_by(Store.code, Promise.channel, Promise.kind)
    )
    if start is not None:
        stmt = stmt.where(Promise.due_at >= start)
    if end is not None:
        stmt = stmt.where(Promise.due_at < end)
    if store_id is not None:
        stmt = stmt.where(Promise.store_id == store_id)
    if kind is not None:
        stmt = stmt.where(Promise.kind == kind)
    result = []
    for code, channel, promise_kind, kept_n, broken_n in session.execute(stmt):
        kept_n, broken_n = int(kept_n or 0), int(broken_n or 0)
        due = kept_n + broken_n
        result.append(
            PromiseRate(
                store=code,
                channel=channel,
                kind=str(promise_kind),
                due=due,
                kept=kept_n,
                broken=broken_n,
                rate=round(kept_n / due, 4) if due else None,
            )
        )
    return result


def kept_rate(
    session: Session,
    *,
    now: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
    store_id: str | None = None,
) -> float | None:
    """One figure for the experience dashboard: kept / (kept + broken), or None."""
    rows = kept_rates(session, now=now, start=start, end=end, store_id=store_id)
    kept = sum(r.kept for r in rows)
    due = sum(r.due for r in rows)
    return round(kept / due, 4) if due else None
