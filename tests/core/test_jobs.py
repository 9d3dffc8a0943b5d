"""The durable job queue: outbox semantics, leases, retries with backoff, dead letters, and
several worker processes sharing one queue, on the real database."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from phygital.config import Settings, load_settings
from phygital.core.clock import Clock, FrozenClock, SystemClock
from phygital.core.errors import Conflict, NotFound
from phygital.core.jobs import (
    JobContext,
    PermanentJobError,
    RetryableJobError,
    Worker,
    backoff,
    enqueue,
    job_handler,
    retry_dead,
)
from phygital.core.models import AppSetting, Job, JobStatus
from phygital.db import make_engine, make_session_factory, transaction
from phygital.main import create_app

LEASE = timedelta(minutes=5)

# What handlers did, written in their own transaction. No primary key: a duplicate would show.
EFFECTS = Table(
    "test_job_effects",
    MetaData(),
    Column("job_id", String(32)),
    Column("attempt", Integer),
    Column("note", String(100)),
)


@job_handler("tests.jobs.record")
def record_run(ctx: JobContext, payload: dict[str, Any]) -> None:
    ctx.session.execute(
        insert(EFFECTS).values(job_id=ctx.job_id, attempt=ctx.attempt, note=payload.get("note"))
    )


@job_handler("tests.jobs.smtp_down")
def fail_retryably(ctx: JobContext, payload: dict[str, Any]) -> None:
    raise RetryableJobError("smtp.example.com refused the connection")


@job_handler("tests.jobs.address_rejected")
def fail_permanently(ctx: JobContext, payload: dict[str, Any]) -> None:
    raise PermanentJobError("mailbox nobody@example.invalid does not exist")


@job_handler("tests.jobs.write_then_fail")
def write_then_fail(ctx: JobContext, payload: dict[str, Any]) -> None:
    record_run(ctx, payload)
    if payload["permanent"]:
        raise PermanentJobError("rejected after writing")
    raise RetryableJobError("timed out after writing")


@job_handler("tests.jobs.send_to_configured_address")
def send_to_configured_address(ctx: JobContext, payload: dict[str, Any]) -> None:
    address = ctx.session.get(AppSetting, "tests.address")
    if address is None:
        raise PermanentJobError("no address configured")
    record_run(ctx, {"note": address.value})


@job_handler("tests.jobs.concurrent")
def run_in_a_worker_process(ctx: JobContext, payload: dict[str, Any]) -> None:
    # The "work" comes before the write so that, on SQLite, the write lock is held only briefly
    # and the worker processes really interleave.
    time.sleep(0.003)
    ctx.session.execute(
        text("INSERT INTO test_job_runs (job_id, worker) VALUES (:job_id, :worker)"),
        {"job_id": ctx.job_id, "worker": str(os.getpid())},
    )


@pytest.fixture
def effects(engine: Engine) -> Iterator[Table]:
    EFFECTS.create(engine)
    yield EFFECTS
    EFFECTS.drop(engine)


@pytest.fixture
def worker(session_factory: sessionmaker[Session], clock: FrozenClock) -> Worker:
    return Worker(session_factory, clock=clock, worker_id="worker", lease=LEASE)


def add_job(session_factory: sessionmaker[Session], clock: Clock, name: str, **options: Any) -> str:
    """Enqueue a job in a transaction of its own and commit it."""
    with transaction(session_factory) as session:
        return enqueue(session, clock=clock, name=name, **options).id


def load(session_factory: sessionmaker[Session], job_id: str) -> Job:
    # A short session each time: on SQLite an open transaction would hold the write lock.
    with session_factory() as session:
        return session.get_one(Job, job_id)


def job_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Job)) or 0


def runs(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(EFFECTS.c.job_id, EFFECTS.c.attempt).order_by(EFFECTS.c.attempt))
        return [(job_id, attempt) for job_id, attempt in rows]


def finish_late(worker: Worker, claimed: tuple[str, str, dict[str, Any], int]) -> None:
    """Run a job claimed earlier, as `run_once` does right after claiming, had it not stalled."""
    worker._run(*claimed)


# Outbox semantics and durability


def test_committed_job_survives_a_restart_and_runs_in_the_new_process(
    engine: Engine,
    db_url: str,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    effects: Table,
) -> None:
    job_id = add_job(session_factory, clock, "tests.jobs.record", payload={"note": "hello"})
    engine.dispose()

    restarted = make_engine(db_url)
    try:
        factory = make_session_factory(restarted, clock)
        assert Worker(factory, clock=clock).run_until_idle() == 1
        job = load(factory, job_id)
        assert (job.status, job.attempts, job.finished_at) == (JobStatus.DONE, 1, clock.now())
        with restarted.connect() as conn:
            assert conn.execute(select(EFFECTS)).all() == [(job_id, 1, "hello")]
    finally:
        restarted.dispose()


def test_job_enqueued_in_a_rolled_back_transaction_does_not_exist(
    engine: Engine, session_factory: sessionmaker[Session], clock: FrozenClock, worker: Worker
) -> None:
    with pytest.raises(RuntimeError), transaction(session_factory) as session:
        session.add(AppSetting(key="tests.order", value="placed"))
        job_id = enqueue(session, clock=clock, name="tests.jobs.record").id
        raise RuntimeError("the request failed after enqueueing")

    with session_factory() as session:
        assert session.get(Job, job_id) is None
        assert session.get(AppSetting, "tests.order") is None
    assert job_count(engine) == 0
    assert worker.run_until_idle() == 0


def test_job_and_the_change_that_asked_for_it_commit_together(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    with transaction(session_factory) as session:
        session.add(AppSetting(key="tests.order", value="placed"))
        job_id = enqueue(session, clock=clock, name="tests.jobs.record").id

    job = load(session_factory, job_id)
    assert (job.status, job.attempts, job.run_at) == (JobStatus.QUEUED, 0, clock.now())
    with session_factory() as session:
        assert session.get_one(AppSetting, "tests.order").value == "placed"


# Leases


def test_job_taken_by_a_worker_that_died_is_taken_again_after_its_lease(
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    effects: Table,
) -> None:
    job_id = add_job(session_factory, clock, "tests.jobs.record")
    a = Worker(session_factory, clock=clock, worker_id="worker-a", lease=LEASE)
    b = Worker(session_factory, clock=clock, worker_id="worker-b", lease=LEASE)

    claimed = a.claim()  # ... and worker A dies before running it
    assert [(job_id, 1)] == [(c[0], c[3]) for c in claimed]
    job = load(session_factory, job_id)
    assert (job.status, job.locked_by) == (JobStatus.RUNNING, "worker-a")
    assert job.locked_until == clock.now() + LEASE

    clock.advance(LEASE)
    assert b.run_until_idle() == 0, "the lease has not run out yet"
    clock.advance(timedelta(seconds=1))
    assert b.run_until_idle() == 1

    job = load(session_factory, job_id)
    assert (job.status, job.attempts, job.locked_by) == (JobStatus.DONE, 2, "worker-b")
    assert job.finished_at == clock.now()
    assert runs(engine) == [(job_id, 2)]

    # Worker A was only stalled after all, and now tries to finish: all it did is undone.
    finish_late(a, claimed[0])
    assert runs(engine) == [(job_id, 2)]
    job = load(session_factory, job_id)
    assert (job.status, job.attempts, job.locked_by) == (JobStatus.DONE, 2, "worker-b")


def test_worker_that_lost_its_lease_has_its_effects_rolled_back(
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    effects: Table,
) -> None:
    job_id = add_job(session_factory, clock, "tests.jobs.record")
    a = Worker(session_factory, clock=clock, worker_id="worker-a", lease=LEASE)
    b = Worker(session_factory, clock=clock, worker_id="worker-b", lease=LEASE)
    [taken_by_a] = a.claim()
    clock.advance(LEASE + timedelta(seconds=1))
    [taken_by_b] = b.claim()
    assert taken_by_b[3] == 2

    finish_late(a, taken_by_a)  # while B is still running it

    assert runs(engine) == []
    job = load(session_factory, job_id)
    assert (job.status, job.locked_by, job.attempts) == (JobStatus.RUNNING, "worker-b", 2)

    finish_late(b, taken_by_b)
    assert runs(engine) == [(job_id, 2)]
    assert load(session_factory, job_id).status == JobStatus.DONE


def test_failure_reported_after_losing_the_lease_leaves_the_job_to_its_new_worker(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    job_id = add_job(session_factory, clock, "tests.jobs.smtp_down")
    a = Worker(session_factory, clock=clock, worker_id="worker-a", lease=LEASE)
    b = Worker(session_factory, clock=clock, worker_id="worker-b", lease=LEASE)
    [taken_by_a] = a.claim()
    clock.advance(LEASE + timedelta(seconds=1))
    assert len(b.claim()) == 1

    finish_late(a, taken_by_a)

    job = load(session_factory, job_id)
    assert (job.status, job.locked_by, job.attempts) == (JobStatus.RUNNING, "worker-b", 2)
    assert job.last_error is None
    assert job.locked_until == clock.now() + LEASE


def test_job_whose_worker_dies_every_time_is_dead_lettered_after_max_attempts(
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    effects: Table,
) -> None:
    job_id = add_job(session_factory, clock, "tests.jobs.record", max_attempts=3)
    for attempt in (1, 2, 3):
        doomed = Worker(session_factory, clock=clock, worker_id=f"doomed-{attempt}", lease=LEASE)
        assert [c[3] for c in doomed.claim()] == [attempt]
        clock.advance(LEASE + timedelta(seconds=1))  # ... it crashed (out of memory, say)
    healthy_id = add_job(session_factory, clock, "tests.jobs.record")
    survivor = Worker(session_factory, clock=clock, worker_id="survivor", batch_size=1)

    # The worn-out job fills the first batch; the survivor buries it and takes the next one.
    assert survivor.run_until_idle() == 1

    job = load(session_factory, job_id)
    assert (job.status, job.attempts, job.finished_at) == (JobStatus.DEAD, 3, clock.now())
    assert job.locked_until is None
    assert job.last_error is not None and "lease expired" in job.last_error
    assert runs(engine) == [(healthy_id, 1)]


def test_claim_takes_at_most_one_batch_earliest_first(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    start = clock.now()
    ids = [
        add_job(session_factory, clock, "tests.jobs.record", run_at=start - timedelta(minutes=m))
        for m in range(5)
    ]
    worker = Worker(session_factory, clock=clock, worker_id="w", lease=LEASE, batch_size=3)

    assert [c[0] for c in worker.claim()] == ids[::-1][:3]
    assert [c[0] for c in worker.claim()] == ids[::-1][3:]
    assert worker.claim() == []


# Failures


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 10), (2, 20), (3, 40), (4, 80), (9, 2560), (10, 3600), (50, 3600)],
)
def test_backoff_doubles_from_ten_seconds_up_to_an_hour(attempts: int, seconds: int) -> None:
    assert backoff(attempts) == timedelta(seconds=seconds)


def test_failing_job_is_retried_with_backoff_then_dead_lettered(
    session_factory: sessionmaker[Session], clock: FrozenClock, worker: Worker
) -> None:
    job_id = add_job(session_factory, clock, "tests.jobs.smtp_down", max_attempts=4)
    error = "RetryableJobError: smtp.example.com refused the connection"

    for attempt, delay in [(1, 10), (2, 20), (3, 40)]:
        assert worker.run_until_idle() == 1
        job = load(session_factory, job_id)
        assert (job.status, job.attempts) == (JobStatus.QUEUED, attempt)
        assert (
            job.run_at == clock.now() + timedelta(seconds=delay) == clock.now() + backoff(attempt)
        )
        assert job.last_error is not None and job.last_error.endswith(error)
        assert (job.locked_until, job.finished_at) == (None, None)

        clock.advance(timedelta(seconds=delay - 1))
        assert worker.run_until_idle() == 0, "retried before its backoff"
        clock.advance(timedelta(seconds=1))

    assert worker.run_until_idle() == 1
    job = load(session_factory, job_id)
    assert (job.status, job.attempts, job.finished_at) == (JobStatus.DEAD, 4, clock.now())
    assert job.last_error is not None and job.last_error.endswith(error)
    assert job.locked_until is None

    clock.advance(timedelta(days=1))
    assert worker.run_until_idle() == 0


def test_permanent_error_dead_letters_at_once(
    session_factory: sessionmaker[Session], clock: FrozenClock, worker: Worker
) -> None:
    job_id = add_job(session_factory, clock, "tests.jobs.address_rejected")

    assert worker.run_until_idle() == 1

    job = load(session_factory, job_id)
    assert (job.status, job.attempts, job.max_attempts) == (JobStatus.DEAD, 1, 8)
    assert job.finished_at == clock.now()
    assert job.last_error is not None
    assert job.last_error.endswith("mailbox nobody@example.invalid does not exist")


def test_job_without_a_registered_handler_is_dead_lettered(
    db: Session, session_factory: sessionmaker[Session], clock: FrozenClock, worker: Worker
) -> None:
    # Enqueued by a newer version of the code than this worker runs.
    job = Job(name="tests.jobs.from_the_future", payload={}, run_at=clock.now(), max_attempts=8)
    db.add(job)
    db.commit()

    assert worker.run_until_idle() == 1

    job = load(session_factory, job.id)
    assert (job.status, job.attempts, job.finished_at) == (JobStatus.DEAD, 1, clock.now())
    assert job.last_error is not None
    assert "no handler registered for job 'tests.jobs.from_the_future'" in job.last_error


def test_enqueueing_a_job_nobody_handles_is_refused(db: Session, clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="no handler"):
        enqueue(db, clock=clock, name="tests.jobs.nobody_handles_this")


def test_two_handlers_for_one_job_name_are_refused() -> None:
    job_handler("tests.jobs.registered_once")(record_run)
    job_handler("tests.jobs.registered_once")(record_run)  # the same function again is fine

    with pytest.raises(ValueError, match="registered twice"):
        job_handler("tests.jobs.registered_once")(fail_retryably)


@pytest.mark.parametrize("permanent", [False, True])
def test_handler_that_writes_then_fails_leaves_no_trace(
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    worker: Worker,
    effects: Table,
    permanent: bool,
) -> None:
    job_id = add_job(
        session_factory, clock, "tests.jobs.write_then_fail", payload={"permanent": permanent}
    )

    assert worker.run_until_idle() == 1

    assert runs(engine) == []
    job = load(session_factory, job_id)
    assert job.status == (JobStatus.DEAD if permanent else JobStatus.QUEUED)
    assert job.attempts == 1


def test_handler_effects_and_done_commit_together(
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    worker: Worker,
    effects: Table,
) -> None:
    job_id = add_job(session_factory, clock, "tests.jobs.record")

    assert worker.run_until_idle() == 1

    assert runs(engine) == [(job_id, 1)]
    job = load(session_factory, job_id)
    assert (job.status, job.last_error, job.locked_until) == (JobStatus.DONE, None, None)
    assert worker.run_until_idle() == 0


# Idempotency and scheduling


def test_enqueueing_twice_with_one_idempotency_key_makes_one_job(
    engine: Engine, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    key = "order-42-confirmation"
    first = add_job(session_factory, clock, "tests.jobs.record", idempotency_key=key)
    again = add_job(session_factory, clock, "tests.jobs.record", idempotency_key=key)
    with transaction(session_factory) as session:
        twice = {
            enqueue(session, clock=clock, name="tests.jobs.record", idempotency_key="other").id
            for _ in range(2)
        }

    assert again == first
    assert len(twice) == 1
    assert job_count(engine) == 2


def test_idempotency_key_of_a_done_job_does_not_run_it_again(
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    worker: Worker,
    effects: Table,
) -> None:
    job_id = add_job(session_factory, clock, "tests.jobs.record", idempotency_key="once")
    assert worker.run_until_idle() == 1

    assert add_job(session_factory, clock, "tests.jobs.record", idempotency_key="once") == job_id
    assert worker.run_until_idle() == 0
    assert runs(engine) == [(job_id, 1)]


@pytest.mark.postgres_only
def test_transactions_racing_on_one_idempotency_key_make_one_job(
    engine: Engine, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    second: dict[str, str] = {}

    def enqueue_in_another_transaction() -> None:
        second["id"] = add_job(session_factory, clock, "tests.jobs.record", idempotency_key="k")

    with transaction(session_factory) as session:
        first = enqueue(session, clock=clock, name="tests.jobs.record", idempotency_key="k").id
        racer = threading.Thread(target=enqueue_in_another_transaction)
        racer.start()
        # The other transaction did not see our uncommitted job: wait until its insert is
        # blocked on the unique index, then commit.
        deadline = time.monotonic() + 5
        while not _someone_waits_for_a_lock(engine):
            assert time.monotonic() < deadline, "the second enqueue never blocked"
            time.sleep(0.01)
    racer.join(10)

    assert second["id"] == first
    assert job_count(engine) == 1


def _someone_waits_for_a_lock(engine: Engine) -> bool:
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with engine.connect() as conn:
        return bool(conn.scalar(query))


def test_scheduled_job_does_not_run_before_its_time(
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    worker: Worker,
    effects: Table,
) -> None:
    job_id = add_job(
        session_factory, clock, "tests.jobs.record", run_at=clock.now() + timedelta(hours=1)
    )

    assert worker.run_until_idle() == 0
    clock.advance(timedelta(minutes=59, seconds=59))
    assert worker.run_until_idle() == 0
    assert load(session_factory, job_id).status == JobStatus.QUEUED
    clock.advance(timedelta(seconds=1))
    assert worker.run_until_idle() == 1

    assert runs(engine) == [(job_id, 1)]
    assert load(session_factory, job_id).status == JobStatus.DONE


# Dead letters


def test_retry_dead_puts_a_dead_job_back_in_the_queue(
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    worker: Worker,
    effects: Table,
) -> None:
    job_id = add_job(session_factory, clock, "tests.jobs.send_to_configured_address")
    worker.run_until_idle()
    assert load(session_factory, job_id).status == JobStatus.DEAD

    clock.advance(timedelta(hours=2))
    with transaction(session_factory) as session:
        session.add(AppSetting(key="tests.address", value="shop@example.com"))  # the fix
        retry_dead(session, clock=clock, job_id=job_id)

    job = load(session_factory, job_id)
    assert (job.status, job.attempts, job.run_at) == (JobStatus.QUEUED, 0, clock.now())
    assert job.finished_at is None
    assert worker.run_until_idle() == 1
    job = load(session_factory, job_id)
    assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 1, None)
    assert runs(engine) == [(job_id, 1)]


def test_retry_dead_refuses_a_job_that_is_not_dead(
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    worker: Worker,
    effects: Table,
) -> None:
    job_id = add_job(session_factory, clock, "tests.jobs.record")
    worker.run_until_idle()

    with pytest.raises(Conflict), transaction(session_factory) as session:
        retry_dead(session, clock=clock, job_id=job_id)

    assert load(session_factory, job_id).status == JobStatus.DONE
    assert worker.run_until_idle() == 0
    assert runs(engine) == [(job_id, 1)]


def test_retry_dead_of_an_unknown_job_is_not_found(db: Session, clock: FrozenClock) -> None:
    with pytest.raises(NotFound):
        retry_dead(db, clock=clock, job_id="0" * 32)


# Real concurrency


def _work_in_a_process_of_its_own(db_url: str, name: str, go: Any) -> None:
    engine = make_engine(db_url)
    try:
        worker = Worker(make_session_factory(engine), clock=SystemClock(), worker_id=name)
        go.wait(10)
        worker.run_until_idle()
    finally:
        engine.dispose()


def test_worker_processes_sharing_one_queue_run_every_job_exactly_once(
    engine: Engine, db_url: str
) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE test_job_runs (job_id varchar(32), worker varchar(100))"))
    processes: list[Any] = []
    try:
        wall = SystemClock()
        with transaction(make_session_factory(engine, wall)) as session:
            ids = {
                enqueue(session, clock=wall, name="tests.jobs.concurrent").id for _ in range(300)
            }
        engine.dispose()  # the children must not inherit our pooled connections

        fork = multiprocessing.get_context("fork")
        go = fork.Event()
        processes = [
            fork.Process(target=_work_in_a_process_of_its_own, args=(db_url, f"worker-{n}", go))
            for n in range(3)
        ]
        for process in processes:
            process.start()
        go.set()
        for process in processes:
            process.join(30)
        assert [process.exitcode for process in processes] == [0, 0, 0]

        with engine.connect() as conn:
            ran = conn.execute(text("SELECT job_id, worker FROM test_job_runs")).all()
            outcomes = conn.execute(
                select(Job.status, Job.attempts, func.count()).group_by(Job.status, Job.attempts)
            ).all()
        times = Counter(job_id for job_id, _ in ran)
        assert set(times) == ids
        assert set(times.values()) == {1}, "some jobs ran more than once"
        assert outcomes == [(JobStatus.DONE, 1, 300)], "some jobs were claimed more than once"
        assert len({worker for _, worker in ran}) > 1, "only one worker process took part"
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE test_job_runs"))


# The worker inside the application


def test_worker_thread_inside_the_app_runs_enqueued_jobs(
    engine: Engine,
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    effects: Table,
) -> None:
    fast = load_settings(
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        worker_poll_seconds=0.05,
        _env_file=None,
    )
    app = create_app(fast, clock=clock, engine=engine, run_worker=True)

    with TestClient(app):
        job_id = add_job(session_factory, clock, "tests.jobs.record")
        deadline = time.monotonic() + 5
        while load(session_factory, job_id).status != JobStatus.DONE:
            assert time.monotonic() < deadline, "the worker thread did not run the job"
            time.sleep(0.02)

    assert runs(engine) == [(job_id, 1)]
    assert not [t for t in threading.enumerate() if t.name == "phygital-worker"]
