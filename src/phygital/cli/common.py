"""What every command shares: failures reported as one line, and the database opened (and
migrated) for a command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from phygital import migrate
from phygital.config import Settings
from phygital.core.clock import SystemClock
from phygital.db import make_engine, make_session_factory


class CliError(Exception):
    """A failure to report as one line on stderr."""


def fail(message: str) -> NoReturn:
    raise CliError(message)


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def open_database(settings: Settings) -> tuple[Engine, sessionmaker[Session]]:
    """Connect, migrate to the current schema, and return the engine and a session factory."""
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        fail(f"cannot reach the database {_safe_url(settings.database_url)}: {reason}")
    if not migrate.is_current(engine):
        migrate.upgrade(engine)
    return engine, make_session_factory(engine, SystemClock())


@contextmanager
def unit_of_work(settings: Settings) -> Iterator[Session]:
    _, factory = open_database(settings)
    with factory() as session, session.begin():
        yield session
