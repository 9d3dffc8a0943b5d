"""Test harness: every test runs against a real database, SQLite or PostgreSQL.

Choose with `--db sqlite|postgresql` (or PHYGITAL_TEST_DB). The schema is migrated once per run
with Alembic; after each test every table is emptied, so tests commit for real and never share
state. Standard principals (owner, manager, seller of store A, seller of store B, outsider) make
permission tests one line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, event
from sqlalchemy.orm import Session, sessionmaker

from phygital import migrate
from phygital.auth.models import Role
from phygital.config import Settings, load_settings
from phygital.core.clock import FrozenClock
from phygital.db import Base, make_engine, make_session_factory
from phygital.main import create_app
from phygital.models import load_all
from tests import dbs
from tests.factories import TestPrincipal, make_principal, make_store

TEST_SECRET = "test-secret-key-0123456789abcdef0123456789"
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # a Friday, 10:00 in Milan


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgresql"),
        default=os.environ.get("PHYGITAL_TEST_DB", "sqlite"),
        help="database to run the suite against",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"phygital database: {config.getoption('--db')}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--db") == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with --db postgresql)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def db_kind(pytestconfig: pytest.Config) -> str:
    return str(pytestconfig.getoption("--db"))


@pytest.fixture(scope="session")
def db_url(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = dbs.new_database_url(db_kind, tmp_path_factory.mktemp("db"))
    yield url
    dbs.drop_database(url)


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    load_all()
    eng = make_engine(db_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "engine" not in request.fixturenames:
        return
    eng: Engine = request.getfixturevalue("engine")
    with eng.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))


@contextmanager
def counting_queries(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on `engine` while the block runs (query-count assertions)."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return load_settings(database_url=db_url, secret_key=TEST_SECRET, _env_file=None)


@pytest.fixture
def session_factory(engine: Engine, clock: FrozenClock) -> sessionmaker[Session]:
    return make_session_factory(engine, clock)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for arranging and checking data; call db.commit() to make writes visible."""
    with session_factory() as session:
        yield session


@pytest.fixture
def app(settings: Settings, clock: FrozenClock, engine: Engine) -> FastAPI:
    return create_app(settings, clock=clock, engine=engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@dataclass
class Principals:
    owner: TestPrincipal
    manager: TestPrincipal
    seller_a: TestPrincipal
    seller_b: TestPrincipal
    outsider: TestPrincipal  # a deactivated user whose token is revoked: gets nothing
    store_a_id: str
    store_b_id: str


@pytest.fixture
def principals(db: Session, clock: FrozenClock) -> Principals:
    from phygital.auth import service as auth_service
    from phygital.auth.models import ApiToken
    from phygital.core.security import token_digest

    store_a = make_store(db, "A", "Store A")
    store_b = make_store(db, "B", "Store B")
    result = Principals(
        owner=make_principal(db, "owner", Role.ADMIN),
        manager=make_principal(db, "manager", Role.MANAGER),
        seller_a=make_principal(db, "seller_a", Role.SELLER, "A"),
        seller_b=make_principal(db, "seller_b", Role.SELLER, "B"),
        outsider=make_principal(db, "outsider", Role.ADMIN, active=False),
        store_a_id=store_a.id,
        store_b_id=store_b.id,
    )
    outsider_token = db.query(ApiToken).filter_by(token_hash=token_digest(result.outsider.token))
    auth_service.revoke_token(db, clock=clock, token_id=outsider_token.one().id)
    db.commit()
    return result


def login(client: TestClient, who: TestPrincipal, *, password: str | None = None) -> None:
    """Log `who` into the web app through the real login form."""
    page = client.get("/login")
    token = csrf_from(page.text)
    response = client.post(
        "/login",
        data={"email": who.email, "password": password or who.password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def csrf_from(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@pytest.fixture
def tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path
