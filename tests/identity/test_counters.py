"""A customer's order counters move in SQL, so that two transactions moving them at once both
count (PostgreSQL: a read-modify-write in Python lost the increment committed in between)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from phygital.core.clock import FrozenClock
from phygital.db import transaction
from phygital.identity import service as identity
from phygital.identity.identifiers import Ident
from phygital.identity.models import Profile
from phygital.identity.resolution import Observation, resolve_many

EMAIL = Ident("email", "giulia@example.it")


def order(factory: sessionmaker[Session], clock: FrozenClock, amount: str, ref: str) -> str:
    with transaction(factory) as session:
        observation = Observation(
            identifiers=[EMAIL],
            at=clock.now(),
            traits={},
            channel="web",
            cause="order",
            ref=ref,
            counts_as_event=False,
            order_amount=Decimal(amount),
        )
        resolution = resolve_many(session, clock=clock, observations=[observation])[0]
        assert resolution is not None
        return resolution.profile_id


def counters(factory: sessionmaker[Session], profile_id: str) -> tuple[int, Decimal]:
    with factory() as session:
        profile = session.get(Profile, profile_id)
        assert profile is not None
        return profile.orders_count, profile.revenue


@pytest.mark.postgres_only
def test_an_edit_and_a_cancellation_keep_an_order_counted_meanwhile(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    profile_id = order(session_factory, clock, "100.00", "order web:1")
    with session_factory() as editing:
        editing.begin()
        seen = editing.get(Profile, profile_id)  # the profile as it was then: 100.00
        assert seen is not None and seen.revenue == Decimal("100.00")
        order(session_factory, clock, "50.00", "order web:2")  # committed meanwhile
        identity.revise_order_amount(editing, profile_id=profile_id, delta=Decimal("14.00"))
        editing.commit()
    assert counters(session_factory, profile_id) == (2, Decimal("164.00"))

    with session_factory() as cancelling:
        cancelling.begin()
        seen = cancelling.get(Profile, profile_id)
        assert seen is not None and seen.orders_count == 2
        order(session_factory, clock, "30.00", "order web:3")
        fact = identity.OrderFact(profile_id, Decimal("50.00"), clock.now(), None)
        identity.forget_orders(cancelling, facts=[fact])
        cancelling.commit()
    assert counters(session_factory, profile_id) == (2, Decimal("144.00"))


def test_a_revised_amount_moves_the_revenue_and_not_the_count(
    session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    profile_id = order(session_factory, clock, "100.00", "order web:1")
    with transaction(session_factory) as session:
        identity.revise_order_amount(session, profile_id=profile_id, delta=Decimal("-25.50"))
    assert counters(session_factory, profile_id) == (1, Decimal("74.50"))
    with transaction(session_factory) as session:
        fact = identity.OrderFact(profile_id, Decimal("74.50"), clock.now(), None)
        identity.forget_orders(session, facts=[fact])
    assert counters(session_factory, profile_id) == (0, Decimal("0.00"))
    with transaction(session_factory) as session:
        nothing = identity.OrderFact(profile_id, Decimal("0.00"), clock.now(), None)
        identity.forget_orders(session, facts=[nothing])  # never below zero orders
    assert counters(session_factory, profile_id) == (0, Decimal("0.00"))
