"""Edits of orders already stored, as a web shop reports them (`orders/updated`,
`order.updated`): the lines and total change, a guest order gains its customer, and an order
the shop gives to another person moves to them.

Everything an order's lines moved when it was saved moves with the edit: the stock a pickup
reserves, the products counted as bought together, the customer's revenue, the journeys. An
order that is history (fulfilled, collected) keeps its lines: after the hand-over a change is a
return or a refund, which is not applied here (a note says so)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from phygital.commerce import promises
from phygital.commerce import service as store_service
from phygital.commerce.models import Order, OrderLine, OrderStatus
from phygital.commerce.orders.reading import lines_of
from phygital.commerce.orders.saving import (
    OPEN_PICKUP,
    PreparedOrder,
    count_pairs,
    known_names,
    line_rows_of,
    observation_of,
    pairs_of,
    subject,
)
from phygital.core.clock import Clock
from phygital.core.events import publish
from phygital.db import execute_many
from phygital.identity import service as identity
from phygital.identity.resolution import resolve_many

Line = tuple[str, int, Decimal]  # sku, quantity, unit price


def revise(
    session: Session, *, clock: Clock, order: Order, data: PreparedOrder, lines: bool = True
) -> list[str]:
    """Bring a stored order in line with what its channel now says of it: its lines (with
    everything they moved; not with `lines=False`, when the channel's lines cannot be trusted
    as the order's), and its customer unless erased (see `_follow_customer`). A cancelled
    order is left alone. Returns notes on what changed or was not applied, for the delivery log."""
    if order.status == OrderStatus.CANCELLED:
        return []
    notes: list[str] = []
    changed = False
    old = lines_of(session, [order.id])[order.id]
    before = sorted((ln.sku, ln.quantity, ln.unit_price) for ln in old)
    after = sorted((sku, quantity, price) for sku, quantity, price, _ in data.lines)
    if lines and before != after:
        if order.status in (OrderStatus.FULFILLED, OrderStatus.COLLECTED):
            notes.append(
                f"lines changed after the order was {order.status}: kept as they were "
                "(returns and refunds are not applied)"
            )
        else:
            _replace_lines(session, order=order, old=before, data=data)
            notes.append(f"lines revised: {len(before)} -> {len(after)}, total {order.total}")
            if order.status == OrderStatus.READY:
                notes.append("the pickup was already ready: the store should check it again")
            changed = True
    if order.customer_erased_at is None and data.identifiers:
        # An erased customer stays forgotten: the shop repeats them in every update.
        note = _follow_customer(session, clock=clock, order=order, data=data)
        if note:
            notes.append(note)
            changed = True
    if changed:
        order.updated_at = clock.now()
        session.flush()
        publish(session, "orders.changed", clock=clock, order_ids=[order.id])
    return notes


def _replace_lines(session: Session, *, order: Order, old: list[Line], data: PreparedOrder) -> None:
    known = known_names(session, {sku for sku, *_ in data.lines})
    session.execute(delete(OrderLine).where(OrderLine.order_id == order.id))
    execute_many(
        session,
        insert(OrderLine.__table__),  # type: ignore[arg-type]
        line_rows_of(data, order.id, known),
        cache_key="order_lines.insert",
    )
    if order.status in OPEN_PICKUP and order.store_id is not None:
        # The units a waiting pickup holds on the shelf follow its lines.
        reserved: Counter[str] = Counter()
        for sku, quantity, _ in old:
            reserved[sku] -= quantity
        for sku, quantity, _, _ in data.lines:
            reserved[sku] += quantity
        store_service.adjust_stock(
            session, {(order.store_id, sku): (0, n) for sku, n in reserved.items()}
        )
    pairs: Counter[tuple[str, str]] = Counter(pairs_of(ln[0] for ln in data.lines))
    pairs.subtract(pairs_of(sku for sku, _, _ in old))
    count_pairs(session, Counter({pair: n for pair, n in pairs.items() if n}))
    total = data.total
    if order.profile_id is not None:
        identity.revise_order_amount(
            session, profile_id=order.profile_id, delta=total - order.total
        )
    order.total = total
    order.lines_count = len(data.lines)
    order.unknown_skus = sum(1 for sku, *_ in data.lines if sku not in known)


def _follow_customer(
    session: Session, *, clock: Clock, order: Order, data: PreparedOrder
) -> str | None:
    """The customer the shop names, by the usual rules (new identifiers join them, evidence may
    join two people). A guest order gains its customer (a login after checkout, an account made
    for it); an order the shop gave to another person moves, with its counters and promise, as
    if it had named them at once. Returns a note when the order's customer changed."""
    before = order.profile_id
    observation = observation_of(data, amount=order.total if before is None else None)
    resolution = resolve_many(session, clock=clock, observations=[observation])[0]
    if resolution is None or resolution.profile_id == before:
        return None
    if before is not None:
        # Read after resolving: the shop's identifiers may just have joined the two people.
        if identity.roots_of(session, [before])[before] == resolution.customer_id:
            return None
        identity.move_order(
            session,
            fact=identity.OrderFact(before, order.total, order.placed_at, order.channel),
            to_profile_id=resolution.profile_id,
        )
    order.profile_id = resolution.profile_id
    promises.attach(session, subject=subject(order.id), profile_id=resolution.profile_id)
    if before is None:
        return "customer attached"
    return f"customer changed: the shop names another person ({resolution.customer_id})"
