"""Order facts: commerce moves the order counters of member profiles when an order already
counted is cancelled, changes its total or changes its customer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import case, func, update
from sqlalchemy.orm import Session

from phygital.identity.models import Profile


@dataclass(frozen=True)
class OrderFact:
    """What commerce tells identity about an order of a member profile (new orders count
    through resolution: `Observation.order_amount`)."""

    profile_id: str
    amount: Decimal
    at: datetime
    channel: str | None


def forget_orders(session: Session, *, facts: list[OrderFact]) -> None:
    """Take cancelled orders out of the members' counters (times and channels stay: the
    person was seen then). In SQL, so a counter another transaction moves meanwhile keeps
    its move."""
    for fact in facts:
        session.execute(
            update(Profile)
            .where(Profile.id == fact.profile_id)
            .values(
                orders_count=case((Profile.orders_count > 0, Profile.orders_count - 1), else_=0),
                revenue=func.coalesce(Profile.revenue, 0) - fact.amount,
            )
        )


def revise_order_amount(session: Session, *, profile_id: str, delta: Decimal) -> None:
    """An order of this member profile changed its total (the shop edited its lines): the
    revenue follows; the order still counts once."""
    if delta:
        session.execute(
            update(Profile)
            .where(Profile.id == profile_id)
            .values(revenue=func.coalesce(Profile.revenue, 0) + delta)
        )


def move_order(session: Session, *, fact: OrderFact, to_profile_id: str) -> None:
    """An order counted for `fact.profile_id` belongs to another person (the shop changed the
    order's customer): it leaves the first member's counters and joins the other's."""
    forget_orders(session, facts=[fact])
    session.execute(
        update(Profile)
        .where(Profile.id == to_profile_id)
        .values(
            orders_count=Profile.orders_count + 1,
            revenue=func.coalesce(Profile.revenue, 0) + fact.amount,
        )
    )
