"""Journeys react to orders, identity changes and product events, and take part in the
customer's export and erasure."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from phygital.commerce.models import Order
from phygital.core.clock import Clock
from phygital.core.events import subscribe
from phygital.core.jobs import JobContext, enqueue, job_handler
from phygital.identity import service as identity
from phygital.journeys import service
from phygital.journeys.models import Journey, JourneyKind
from phygital.privacy.registry import register

REFRESH_JOB = "journeys.refresh"


@subscribe("orders.saved")
@subscribe("orders.changed")
def _orders(session: Session, *, clock: Clock, order_ids: list[str]) -> None:
    # In the order's own transaction: a new in-store sale knows its ROPO journey at once.
    service.refresh_orders(session, order_ids)


@subscribe("identity.changed")
def _customers(session: Session, *, clock: Clock, customer_ids: list[str]) -> None:
    enqueue(session, clock=clock, name=REFRESH_JOB, payload={"customer_ids": customer_ids})


@subscribe("tracking.product_events")
def _events(session: Session, *, clock: Clock, profile_ids: list[str]) -> None:
    # Most product events precede their purchase and change nothing; the job checks quickly
    # whether these people have orders at all, off the ingestion path.
    enqueue(session, clock=clock, name=REFRESH_JOB, payload={"profile_ids": profile_ids})


@job_handler(REFRESH_JOB)
def _refresh(ctx: JobContext, payload: dict[str, Any]) -> None:
    roots = set(payload.get("customer_ids", []))
    profile_ids = payload.get("profile_ids", [])
    if profile_ids:
        roots.update(identity.roots_of(ctx.session, profile_ids).values())
    service.refresh_customers(ctx.session, roots)


def export(session: Session, member_ids: list[str]) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Journey)
        .join(Order, Order.id == Journey.order_id)
        .where(Order.profile_id.in_(member_ids))
        .order_by(Journey.purchased_at)
    )
    return [
        {
            "kind": str(j.kind),
            "sku": j.sku,
            "order_id": j.order_id,
            "online_at": j.online_at.isoformat(),
            "offline_at": j.offline_at.isoformat(),
            "revenue": str(j.revenue),
        }
        for j in rows
    ]


def erase(session: Session, member_ids: list[str]) -> None:
    """The person's orders lose their customer (commerce detaches them after this runs), so
    their journeys become what detection finds for an anonymous order: ROPO and showrooming
    end (they are about a person's research); a click & collect stays, without its customer."""
    mine = or_(
        Journey.order_id.in_(select(Order.id).where(Order.profile_id.in_(member_ids))),
        Journey.customer_id.in_(member_ids),
    )
    session.execute(delete(Journey).where(mine, Journey.kind != JourneyKind.CLICK_AND_COLLECT))
    session.execute(update(Journey).where(mine).values(customer_id=None))


register("journeys", exporter=export, eraser=erase, order=15)
