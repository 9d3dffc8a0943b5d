"""The database layer: migrations on both databases, SQLite settings, durable acknowledgements."""

from __future__ import annotations

import os
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, inspect, select, text
from sqlalchemy.orm import Session

from phygital import migrate
from phygital.commerce.models import Store
from phygital.core.clock import FrozenClock
from phygital.db import (
    SQLITE_MMAP_SIZE,
    Base,
    ReadOnlyViolation,
    make_engine,
    make_session_factory,
    new_id,
    read_only,
    transaction,
)
from phygital.deps import SessionDep, writes
from tests import dbs
from tests.conftest import Principals, login


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


def test_migrations_round_trip(db_kind: str, tmp_path: Path) -> None:
    url = dbs.new_database_url(db_kind, tmp_path)
    eng = make_engine(url)
    try:
        migrate.upgrade(eng)
        assert migrate.is_current(eng)
        migrate.downgrade(eng, "base")
        with eng.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        assert not migrate.is_current(eng)
        migrate.upgrade(eng)
        with eng.connect() as conn:
            tables = set(inspect(conn).get_table_names())
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
    finally:
        eng.dispose()
        dbs.drop_database(url)


def test_sqlite_runs_with_wal_foreign_keys_and_secure_delete(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() == SQLITE_MMAP_SIZE
    eng.dispose()


def test_sqlite_times_are_stored_in_sqlalchemys_own_text_and_read_back_from_any(
    tmp_path: Path,
) -> None:
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import Column, DateTime, MetaData, Table

    from phygital.db import UTCDateTime

    eng = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    table = Table("t", MetaData(), Column("at", UTCDateTime()), Column("plain", DateTime()))
    table.metadata.create_all(eng)
    at = datetime(999, 1, 5, 10, 0, 0, 7, tzinfo=timezone(timedelta(hours=1)))
    with eng.begin() as conn:
        conn.execute(table.insert(), [{"at": at, "plain": at.astimezone(UTC).replace(tzinfo=None)}])
        stored, plain = conn.exec_driver_sql("SELECT at, plain FROM t").one()
        assert stored == plain == "0999-01-05 09:00:00.000007"
        for text_, expected in [
            ("2026-11-23 03:25:52", datetime(2026, 11, 23, 3, 25, 52, tzinfo=UTC)),
            ("2026-11-23", datetime(2026, 11, 23, tzinfo=UTC)),
            ("2026-11-23T05:25:52+02:00", datetime(2026, 11, 23, 3, 25, 52, tzinfo=UTC)),
        ]:
            conn.exec_driver_sql("UPDATE t SET at = ?", (text_,))
            read = conn.execute(select(table.c.at)).scalar_one()
            assert read == expected and read.utcoffset() == timedelta(0), text_
    eng.dispose()


def test_times_are_stored_and_read_back_as_utc(db: Session) -> None:
    from datetime import datetime, timedelta, timezone

    rome = timezone(timedelta(hours=1))
    store = Store(
        code="T",
        name="T",
        timezone="Europe/Rome",
        opening_hours={},
        created_at=datetime(2026, 1, 5, 10, 0, tzinfo=rome),
    )
    db.add(store)
    db.commit()
    db.expire_all()
    loaded = db.scalar(select(Store).where(Store.code == "T"))
    assert loaded is not None
    assert loaded.created_at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert loaded.created_at.utcoffset() == timedelta(0)


def test_a_write_is_acknowledged_only_once_committed(
    app: FastAPI, engine: Engine, db: Session
) -> None:
    """If the commit fails, the client gets an error, never a 200 for a lost write."""

    @app.post("/_test/two-stores-same-code")
    def two_stores(session: SessionDep) -> dict[str, str]:
        # No flush: the unique violation surfaces only at commit, after the route returned.
        session.add(Store(code="DUP", name="one", timezone="Europe/Rome", opening_hours={}))
        session.add(Store(code="DUP", name="two", timezone="Europe/Rome", opening_hours={}))
        return {"status": "stored"}

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/_test/two-stores-same-code")
    assert response.status_code == 500
    assert db.scalar(select(func.count()).select_from(Store)) == 0


@pytest.mark.postgres_only
def test_postgresql_url_without_driver_uses_psycopg(db_url: str) -> None:
    plain = db_url.replace("postgresql+psycopg://", "postgresql://")
    eng = make_engine(plain)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    assert eng.dialect.driver == "psycopg"
    eng.dispose()


def test_ids_are_unique_hex_in_time_order_and_never_shared_with_a_forked_child() -> None:
    ids = [new_id() for _ in range(5_000)]  # several draws of random tails
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)  # the time comes first
    new_id()  # tails left in this process
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.write(write, new_id()[12:].encode())
        os._exit(0)
    os.waitpid(child, 0)
    os.close(write)
    childs_tail = os.read(read, 64).decode()
    os.close(read)
    assert len(childs_tail) == 20
    assert childs_tail != new_id()[12:]  # the child drew its own


# -- read-only units of work ----------------------------------------------------------------------


def insert_store(code: str, clock: FrozenClock) -> Any:
    """A store written below the ORM (as another connection or a raw unit of work would)."""
    now = clock.now()
    return insert(Store).values(
        id=new_id(), code=code, name=code, timezone="Europe/Rome", opening_hours={},
        created_at=now, updated_at=now,
    )  # fmt: skip


def test_reads_go_on_while_a_writer_holds_the_database(
    client: TestClient, engine: Engine, principals: Principals, clock: FrozenClock
) -> None:
    """GET requests read the last commit beside a writer (an import batch, a job) instead of
    queueing for SQLite's write lock (they would fail with "database is locked" after the busy
    timeout, the writer never ending while the request runs)."""
    owner = principals.owner
    assert client.get("/api/v1/stores", headers=owner.headers).status_code == 200  # token used
    login(client, owner)
    with engine.connect() as writer, writer.begin():
        writer.execute(insert_store("HELD", clock))
        stores = client.get("/api/v1/stores", headers=owner.headers)
        assert stores.status_code == 200, stores.text
        assert "HELD" not in stores.text  # not committed: not seen
        assert client.get("/customers").status_code == 200
        writer.rollback()


def test_a_get_route_writes_only_when_it_says_so(app: FastAPI, db: Session) -> None:
    def store(session: Session, code: str) -> dict[str, str]:
        session.add(Store(code=code, name=code, timezone="Europe/Rome", opening_hours={}))
        session.flush()
        return {"status": "stored"}

    @app.get("/_test/silent-write")
    def silent(session: SessionDep) -> dict[str, str]:
        return store(session, "SILENT")

    @app.get("/_test/declared-write")
    @writes
    def declared(session: SessionDep) -> dict[str, str]:
        return store(session, "DECLARED")

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/_test/silent-write").status_code == 500
        assert client.get("/_test/declared-write").status_code == 200
    assert db.scalars(select(Store.code)).all() == ["DECLARED"]


def test_a_read_only_unit_of_work_refuses_any_write(
    engine: Engine, db: Session, clock: FrozenClock
) -> None:
    factory = make_session_factory(read_only(engine))
    with pytest.raises(ReadOnlyViolation, match="INSERT INTO stores"), transaction(factory) as s:
        s.execute(insert_store("RO", clock))
    assert db.scalar(select(func.count()).select_from(Store)) == 0
