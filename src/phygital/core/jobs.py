"""Durable background jobs, stored in the application database (outbox style).

A job is enqueued with `enqueue(session, ...)` inside the caller's transaction, so it is committed
together with the data change that asked for it, or not at all. A worker claims due jobs under a
lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers itself), runs each one in a
transaction of its own that also marks it done, retries failures with exponential backoff and moves
a job to `dead` with its last error after `max_attempts` or on a `PermanentJobError`. A job held by
a process that died is taken again once its lease has expired.

Why not a library: procrastinate is PostgreSQL-only, dramatiq/celery/arq need a broker, and huey
cannot enqueue inside our SQLAlchemy transaction; see docs/architecture.md.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from phygital.core.clock import Clock
from phygital.core.errors import Conflict, NotFound
from phygital.core.models import Job, JobStatus

if TYPE_CHECKING:
    from phygital.config import Settings

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 10
BACKOFF_CAP_SECONDS = 3600
ERROR_TEXT_LIMIT = 4000


class PermanentJobError(Exception):
    """Retrying cannot help (a rejected address, a malformed payload): dead-letter at once."""


class RetryableJobError(Exception):
    """A passing failure (a server down, a time-out): try again later with backoff."""


@dataclass(frozen=True)
class JobContext:
    """What a handler gets besides its payload: its own transaction and the injected clock."""

    session: Session
    clock: Clock
    job_id: str
    attempt: int
    # The process's configuration (SMTP server, API credentials); None in bare tests.
    settings: Settings | None = None


Handler = Callable[[JobContext, dict[str, Any]], None]

_HANDLERS: dict[str, Handler] = {}


def job_handler(name: str) -> Callable[[Handler], Handler]:
    """Register a function as the handler of jobs called `name`."""

    def register(fn: Handler) -> Handler:
        if name in _HANDLERS and _HANDLERS[name] is not fn:
            raise ValueError(f"job handler {name!r} registered twice")
        _HANDLERS[name] = fn
        return fn

    return register


def registered_handlers() -> dict[str, Handler]:
    return dict(_HANDLERS)


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` failed ones: 10 s, 20 s, 40 s, … up to 1 h."""
    seconds = BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, BACKOFF_CAP_SECONDS))


def enqueue(
    session: Session,
    *,
    clock: Clock,
    name: str,
    payload: dict[str, Any] | None = None,
    run_at: datetime | None = None,
    idempotency_key: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Job:
    """Add a job in the caller's transaction. With an idempotency key already used, the existing
    job is returned and nothing is added."""
    if name not in _HANDLERS:
        raise ValueError(f"no handler registered for job {name!r}")
    if idempotency_key is not None:
        existing = session.scalar(select(Job).where(Job.idempotency_key == idempotency_key))
        if existing is not None:
            return existing
    job = Job(
        name=name,
        payload=payload or {},
        status=JobStatus.QUEUED,
        run_at=run_at or clock.now(),
        attempts=0,
        max_attempts=max_attempts,
        idempotency_key=idempotency_key,
    )
    if idempotency_key is None:
        session.add(job)
        session.flush()
        return job
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        # Another transaction enqueued the same key between our check and our insert.
        existing = session.scalar(select(Job).where(Job.idempotency_key == idempotency_key))
        if existing is None:
            raise
        return existing
    return job


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Worker:
    """Claims and runs due jobs. Several workers (threads or processes) may share one queue."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        clock: Clock,
        worker_id: str | None = None,
        lease: timedelta = timedelta(minutes=5),
        batch_size: int = 10,
        settings: Settings | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.settings = settings
        self.worker_id = worker_id or default_worker_id()
        self.lease = lease
        self.batch_size = batch_size

    def claim(self) -> list[tuple[str, str, dict[str, Any], int]]:
        """Take up to `batch_size` due jobs (or jobs whose lease expired) under a fresh lease."""
        now = self.clock.now()
        with self.session_factory() as session, session.begin():
            due = (
                select(Job.id, Job.status, Job.attempts, Job.max_attempts)
                .where(
                    or_(
                        and_(Job.status == JobStatus.QUEUED, Job.run_at <= now),
                        and_(Job.status == JobStatus.RUNNING, Job.locked_until < now),
                    )
                )
                .order_by(Job.run_at, Job.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            ids: list[str] = []
            while not ids:
                rows = session.execute(due).all()
                if not rows:
                    return []
                # A job whose lease ran out max_attempts times (it kills its worker, or always
                # outlives its lease) would otherwise be taken again forever.
                worn_out = [
                    r.id
                    for r in rows
                    if r.status == JobStatus.RUNNING and r.attempts >= r.max_attempts
                ]
                if worn_out:
                    self._bury(session, worn_out, now)
                ids = [r.id for r in rows if r.id not in worn_out]
            session.execute(
                update(Job)
                .where(Job.id.in_(ids))
                .values(
                    status=JobStatus.RUNNING,
                    locked_by=self.worker_id,
                    locked_until=now + self.lease,
                    attempts=Job.attempts + 1,
                    updated_at=now,
                )
            )
            rows = session.execute(
                select(Job.id, Job.name, Job.payload, Job.attempts)
                .where(Job.id.in_(ids))
                .order_by(Job.run_at, Job.id)
            ).all()
            return [(r.id, r.name, r.payload, r.attempts) for r in rows]

    def _bury(self, session: Session, ids: list[str], now: datetime) -> None:
        session.execute(
            update(Job)
            .where(Job.id.in_(ids))
            .values(
                status=JobStatus.DEAD,
                finished_at=now,
                locked_until=None,
                last_error="lease expired on every attempt: the job crashed its worker "
                "or ran longer than the lease",
                updated_at=now,
            )
        )
        log.error("jobs %s dead: lease expired on every attempt", ", ".join(ids))

    def run_once(self) -> int:
        """Claim and run one batch; returns how many jobs were run (successfully or not)."""
        claimed = self.claim()
        for job_id, name, payload, attempt in claimed:
            self._run(job_id, name, payload, attempt)
        return len(claimed)

    def run_until_idle(self, max_batches: int = 1000) -> int:
        """Run batches until no job is due (tests and the demo use this)."""
        total = 0
        for _ in range(max_batches):
            ran = self.run_once()
            if ran == 0:
                break
            total += ran
        return total

    def run_forever(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        log.info("worker %s started", self.worker_id)
        while not stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # the database went away: wait and try again
                log.exception("worker %s could not claim jobs", self.worker_id)
                ran = 0
            if ran == 0:
                stop.wait(poll_seconds)
        log.info("worker %s stopped", self.worker_id)

    def _run(self, job_id: str, name: str, payload: dict[str, Any], attempt: int) -> None:
        handler = _HANDLERS.get(name)
        try:
            if handler is None:
                raise PermanentJobError(f"no handler registered for job {name!r}")
            with self.session_factory() as session, session.begin():
                handler(
                    JobContext(
                        session=session,
                        clock=self.clock,
                        job_id=job_id,
                        attempt=attempt,
                        settings=self.settings,
                    ),
                    payload,
                )
                # Finishing is part of the job's own transaction: its effects and its "done"
                # commit together. If our lease was lost to another worker, undo everything.
                finished = session.execute(
                    update(Job)
                    .where(
                        Job.id == job_id,
                        Job.locked_by == self.worker_id,
                        Job.status == JobStatus.RUNNING,
                    )
                    .values(
                        status=JobStatus.DONE,
                        finished_at=self.clock.now(),
                        locked_until=None,
                        last_error=None,
                        updated_at=self.clock.now(),
                    )
                )
                if finished.rowcount != 1:  # type: ignore[attr-defined]
                    raise _LeaseLost()
        except _LeaseLost:
            log.warning(
                "job %s: lease lost to another worker; its effects were rolled back", job_id
            )
        except Exception as exc:
            self._fail(job_id, exc)

    def _fail(self, job_id: str, exc: Exception) -> None:
        permanent = isinstance(exc, PermanentJobError)
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        now = self.clock.now()
        with self.session_factory() as session, session.begin():
            job = session.get(Job, job_id, with_for_update=True)
            if job is None or job.locked_by != self.worker_id or job.status != JobStatus.RUNNING:
                return
            job.last_error = error[:ERROR_TEXT_LIMIT]
            job.locked_until = None
            if permanent or job.attempts >= job.max_attempts:
                job.status = JobStatus.DEAD
                job.finished_at = now
                log.error(
                    "job %s (%s) dead after %d attempts: %s", job_id, job.name, job.attempts, error
                )
            else:
                job.status = JobStatus.QUEUED
                job.run_at = now + backoff(job.attempts)
                log.warning(
                    "job %s (%s) failed (attempt %d), retry at %s: %s",
                    job_id,
                    job.name,
                    job.attempts,
                    job.run_at.isoformat(),
                    error,
                )


class _LeaseLost(Exception):
    pass


def retry_dead(session: Session, *, clock: Clock, job_id: str) -> Job:
    """Put a dead job back in the queue now, with a fresh set of attempts."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.status != JobStatus.DEAD:
        # A done job would run twice; a running one would be taken from its worker.
        raise Conflict(f"job {job_id} is {job.status}, not dead")
    job.status = JobStatus.QUEUED
    job.run_at = clock.now()
    job.attempts = 0
    job.finished_at = None
    return job


class WorkerThread:
    """The worker inside `phygital serve` (SQLite deployments): one daemon thread."""

    def __init__(self, worker: Worker, poll_seconds: float) -> None:
        self.worker = worker
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="phygital-worker", daemon=True)

    def _main(self) -> None:
        self.worker.run_forever(self._stop, self.poll_seconds)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
