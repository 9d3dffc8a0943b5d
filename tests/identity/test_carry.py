"""IdentityCarry: a bulk job's batches hand on what they learned about identity, and only while
the database still holds exactly that (SQLite; on PostgreSQL every batch starts afresh)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from phygital.core.clock import FrozenClock
from phygital.db import make_engine, make_session_factory, one_connection, transaction
from phygital.identity import service
from phygital.identity.models import Profile
from phygital.identity.resolution import IdentityCarry, Observation, Resolution, resolve_many
from tests.conftest import counting_queries
from tests.identity.conftest import observe


def resolve(
    factory: sessionmaker[Session], clock: FrozenClock, carry: IdentityCarry, *obs: Observation
) -> list[Resolution | None]:
    with transaction(factory) as session:
        return resolve_many(session, clock=clock, observations=list(obs), carry=carry)


@pytest.fixture
def batches(session_factory: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    """Sessions on one connection, as an import runs its batches."""
    with one_connection(session_factory) as factory:
        yield factory


def test_a_later_batch_does_not_look_up_people_an_earlier_one_met(
    engine: Engine, batches: sessionmaker[Session], clock: FrozenClock, db_kind: str
) -> None:
    carry = IdentityCarry()
    [first] = resolve(batches, clock, carry, observe("email:giulia@example.it"))
    with counting_queries(engine) as statements:
        [again] = resolve(batches, clock, carry, observe("email:giulia@example.it"))
    lookups = [
        s for s in statements if s.lstrip().upper().startswith("SELECT") and "identifiers" in s
    ]
    assert first is not None and again is not None
    assert again.customer_id == first.customer_id and not again.created
    # SQLite: known from the carry. PostgreSQL: looked up again (no carry there).
    assert len(lookups) == (0 if db_kind == "sqlite" else 2)


def test_a_change_made_by_another_connection_is_seen_by_the_next_batch(
    db_url: str, batches: sessionmaker[Session], clock: FrozenClock
) -> None:
    carry = IdentityCarry()
    [giulia] = resolve(batches, clock, carry, observe("email:giulia@example.it"))
    clock.advance(timedelta(minutes=1))  # the phone's customer is the newer: merged into Giulia
    [other] = resolve(batches, clock, carry, observe("phone:3471234567"))
    assert giulia is not None and other is not None
    # A person merges the two in the web app (another connection) between two batches.
    elsewhere = make_engine(db_url)
    try:
        with transaction(make_session_factory(elsewhere, clock)) as session:
            survivor = service.merge(
                session,
                clock=clock,
                customer_id=giulia.customer_id,
                other_id=other.customer_id,
                by="manager",
            )
    finally:
        elsewhere.dispose()
    assert survivor == giulia.customer_id
    [later] = resolve(batches, clock, carry, observe("phone:3471234567", channel="store"))
    assert later is not None and later.customer_id == giulia.customer_id


def test_a_batch_rolled_back_is_not_handed_on(
    batches: sessionmaker[Session], clock: FrozenClock
) -> None:
    carry = IdentityCarry()
    with pytest.raises(RuntimeError), transaction(batches) as session:
        resolve_many(
            session, clock=clock, observations=[observe("email:giulia@example.it")], carry=carry
        )
        raise RuntimeError("the batch fails after resolving")
    [again] = resolve(batches, clock, carry, observe("email:giulia@example.it"))
    assert again is not None and again.created
    with batches() as session:
        assert session.scalar(select(func.count()).select_from(Profile)) == 1


def test_a_batch_with_a_savepoint_rolled_back_is_not_handed_on(
    engine: Engine, batches: sessionmaker[Session], clock: FrozenClock
) -> None:
    """A rollback in the batch's session before it commits, even of a savepoint only, may have
    undone what the carry holds: the next batch looks its people up again."""

    def lookups_after(savepoint: bool) -> int:
        carry = IdentityCarry()
        with transaction(batches) as session:
            resolve_many(
                session, clock=clock, observations=[observe("email:giulia@example.it")], carry=carry
            )
            if savepoint:
                session.begin_nested().rollback()
        with counting_queries(engine) as statements:
            resolve(batches, clock, carry, observe("email:giulia@example.it"))
        return sum(1 for s in statements if "identifiers" in s and "SELECT" in s.upper())

    assert lookups_after(savepoint=True) > 0
    assert lookups_after(savepoint=False) == (0 if engine.dialect.name == "sqlite" else 2)


def test_one_connection_of_a_factory_already_on_one_is_that_one(
    batches: sessionmaker[Session],
) -> None:
    with one_connection(batches) as again:
        assert again is batches
    with pytest.raises(TypeError, match="bound to an engine"), one_connection(sessionmaker()):
        pass
