"""Real databases for the tests: a fresh SQLite file, or a fresh PostgreSQL database on the
server named by PHYGITAL_TEST_POSTGRES_URL (default: the local server, database `test`)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get(
    "PHYGITAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def new_sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / f'phygital-{uuid.uuid4().hex[:8]}.db'}"


def new_postgres_url() -> str:
    """Create an empty database and return its URL."""
    name = f"phygital_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def new_database_url(kind: str, directory: Path) -> str:
    return new_postgres_url() if kind == "postgresql" else new_sqlite_url(directory)


def drop_database(url: str) -> None:
    if make_url(url).get_backend_name() == "postgresql":
        drop_postgres(url)
