"""Alembic environment: runs against the engine handed over by phygital.migrate (or the URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from phygital.db import Base, make_engine
from phygital.models import load_all

load_all()
target_metadata = Base.metadata
config = context.config


def run_migrations_online() -> None:
    engine: Engine | None = config.attributes.get("engine")
    if engine is None:
        from phygital.config import get_settings

        engine = make_engine(get_settings().database_url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
