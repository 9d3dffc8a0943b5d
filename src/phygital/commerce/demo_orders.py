"""The demo company's orders: 90 days of web-shop orders (delivery and click & collect), till
receipts (known and anonymous) and an agent's orders, planned from what each demo person did.

`plan_orders` is pure (seeded): people who looked at a product online often buy it in a store a
few days later (research online, purchase offline: most in Torino), people who tried one in a
store often buy it on the web shop afterwards (showrooming: most in Milano), some buy online
right away, and each purchase brings the accessories a seller would add. `seed_orders` sends
them through `save_orders`, the path every real order takes, with a clock at each order's time,
then plays the pickups forward: collected in the past (a few promises broken), ready or awaiting
now, and some overdue today for the desk to show.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from phygital.commerce import orders as order_service
from phygital.commerce import service
from phygital.commerce.demo import COMPANIONS, DEMO_CATALOGUE, DEMO_STORES, demo_opening_hours
from phygital.commerce.hours import Schedule
from phygital.commerce.models import Order, OrderOrigin
from phygital.commerce.schemas import CustomerIn, LineIn, OrderCreate, ProductCreate
from phygital.core.clock import FrozenClock
from phygital.identity.demo import DemoPerson
from phygital.identity.schemas import IdentifierIn
from phygital.tracking.demo import Interaction

TZ = ZoneInfo("Europe/Rome")
PRODUCTS = {p.sku: p for p in DEMO_CATALOGUE}
# How likely research on one side turns into a purchase on the other, per home store: Torino's
# customers research online and buy in store, Milano's try in store and buy online.
ROPO = {"MI": 0.18, "TO": 0.55, "BO": 0.35}
SHOWROOMING = {"MI": 0.5, "TO": 0.12, "BO": 0.25}
BUY_ONLINE_NOW = 0.12
PICKUP_SHARE = {"MI": 0.45, "TO": 0.3, "BO": 0.35}
AGENT_ACCOUNTS = 4


@dataclass(frozen=True)
class PlannedOrder:
    data: OrderCreate
    origin: OrderOrigin
    # For pickups: how long after the promise it was ready (negative: early); None = not yet.
    ready_delay: timedelta | None = None
    collected_after: timedelta | None = None


@dataclass
class OrderPlan:
    orders: list[PlannedOrder] = field(default_factory=list)

    def count(self, channel: str) -> int:
        return sum(1 for o in self.orders if o.data.channel == channel)


class _Planner:
    def __init__(self, rng: random.Random, now: datetime, days: int) -> None:
        self.rng = rng
        self.now = now.astimezone(UTC)
        self.start = self.now - timedelta(days=days)
        self.schedules = {
            s.code: Schedule(s.timezone, demo_opening_hours(s.code)) for s in DEMO_STORES
        }
        self.plan = OrderPlan()
        self.receipts = 0
        self.web_orders = 0

    # -- time -------------------------------------------------------------------------------

    def store_time_after(self, code: str, after: datetime, days: int) -> datetime | None:
        """A moment when store `code` is open, `days` days (about) after `after`; None if that
        would be in the future."""
        day = (after + timedelta(days=days)).astimezone(TZ).date()
        for _ in range(7):
            shifts = self.schedules[code].shifts_on(day)
            if shifts:
                start, end = self.rng.choice(list(shifts))
                lo = int(start[:2]) * 60 + int(start[3:])
                hi = int(end[:2]) * 60 + int(end[3:]) - 20
                minute = self.rng.randint(lo, max(lo, hi))
                at = datetime.combine(day, time(minute // 60, minute % 60), TZ).astimezone(UTC)
                if after < at < self.now - timedelta(minutes=30):
                    return at
            day += timedelta(days=1)
        return None

    def online_time_after(self, after: datetime, days: int) -> datetime | None:
        day = (after + timedelta(days=days)).astimezone(TZ).date()
        hour = self.rng.choice((8, 12, 13, 19, 20, 21, 22))
        at = datetime.combine(day, time(hour, self.rng.randint(0, 59)), TZ).astimezone(UTC)
        if at <= after:
            at = after + timedelta(minutes=self.rng.randint(5, 90))
        return at if at < self.now - timedelta(minutes=10) else None

    # -- what is bought -------------------------------------------------------------------------

    def lines(self, sku: str) -> list[LineIn]:
        product = PRODUCTS[sku]
        lines = [LineIn(sku=sku, quantity=1, unit_price=product.price)]
        companions = list(COMPANIONS.get(product.category, ()))
        self.rng.shuffle(companions)
        for other in companions[: self.rng.choices((0, 1, 2), (3, 4, 2))[0]]:
            lines.append(LineIn(sku=other, quantity=1, unit_price=PRODUCTS[other].price))
        return lines

    @staticmethod
    def customer(person: DemoPerson, *, at_till: bool) -> CustomerIn:
        # The till finds the customer by card, else phone; the loyalty record also holds the
        # e-mail, which is what ties a card never seen before to the person online.
        idents: list[IdentifierIn] = []
        if at_till and person.loyalty_card:
            idents.append(IdentifierIn(kind="loyalty_card", value=person.loyalty_card))
        elif at_till and person.phone:
            idents.append(IdentifierIn(kind="phone", value=person.phone))
        if person.email:
            idents.append(IdentifierIn(kind="email", value=person.email))
        if not at_till and person.user_id:
            idents.append(IdentifierIn(kind="user_id", value=person.user_id))
        traits = {"first_name": person.first_name, "last_name": person.last_name}
        return CustomerIn(traits=traits, identifiers=idents)

    # -- orders -----------------------------------------------------------------------------------

    def till(self, code: str, at: datetime, lines: list[LineIn], who: CustomerIn | None) -> None:
        self.receipts += 1
        self.plan.orders.append(
            PlannedOrder(
                OrderCreate(
                    external_id=f"R-{code}-{self.receipts:06d}",
                    channel="store",
                    placed_at=at,
                    customer=who or CustomerIn(),
                    fulfilment="in_store",
                    store=code,
                    lines=lines,
                ),
                OrderOrigin.POS,
            )
        )

    def web(self, person: DemoPerson, at: datetime, lines: list[LineIn]) -> None:
        self.web_orders += 1
        pickup = self.rng.random() < PICKUP_SHARE[person.home_store]
        channel = "app" if person.app and self.rng.random() < 0.35 else "web"
        data = OrderCreate(
            external_id=str(5_820_982_900_000_000_000 + self.web_orders),
            channel=channel,
            placed_at=at,
            customer=self.customer(person, at_till=False),
            fulfilment="pickup" if pickup else "delivery",
            store=person.home_store if pickup else None,
            lines=lines,
            label=f"#{1000 + self.web_orders}",
        )
        ready_delay = collected = None
        if pickup:
            late = self.rng.random() < 0.12
            ready_delay = timedelta(
                minutes=self.rng.randint(20, 240) if late else -self.rng.randint(0, 50)
            )
            collected = timedelta(hours=self.rng.randint(2, 70))
        self.plan.orders.append(PlannedOrder(data, OrderOrigin.SHOPIFY, ready_delay, collected))

    def person(self, person: DemoPerson, met: list[Interaction]) -> None:
        online = [i for i in met if i.online]
        offline = [i for i in met if not i.online]
        home = person.home_store
        if online and self.rng.random() < ROPO[home]:
            seen = self.rng.choice(online)
            at = self.store_time_after(home, seen.at, self.rng.randint(1, 20))
            if at is not None:
                self.till(home, at, self.lines(seen.sku), self.customer(person, at_till=True))
        if offline and self.rng.random() < SHOWROOMING[home]:
            tried = self.rng.choice(offline)
            at = self.online_time_after(tried.at, self.rng.randint(1, 14))
            if at is not None:
                self.web(person, at, self.lines(tried.sku))
        if online and self.rng.random() < BUY_ONLINE_NOW:
            seen = self.rng.choice(online)
            at = self.online_time_after(seen.at, 0)
            if at is not None:
                self.web(person, at, self.lines(seen.sku))

    def anonymous_tills(self) -> None:
        """Walk-in sales nobody identified: they count for the store, not for a person."""
        small = [p for p in DEMO_CATALOGUE if p.price < 130]
        day = self.start.astimezone(TZ).date()
        while day <= self.now.astimezone(TZ).date():
            for code in self.schedules:
                for _ in range(self.rng.choices((0, 1, 2, 3), (3, 4, 3, 1))[0]):
                    at = self.store_time_after(code, _midnight(day), 0)
                    if at is None or at.astimezone(TZ).date() != day:
                        continue
                    # Mostly small things; now and then a bike to somebody nobody knows.
                    big = self.rng.random() < 0.12
                    product = self.rng.choice(DEMO_CATALOGUE if big else small)
                    self.till(
                        code,
                        at,
                        [LineIn(sku=product.sku, quantity=1, unit_price=product.price)],
                        None,
                    )
            day += timedelta(days=1)

    def agent(self, people: list[DemoPerson]) -> None:
        """An agent who sells cargo e-bikes to a few businesses, ordering for them."""
        accounts = [p for p in people if p.email][:AGENT_ACCOUNTS]
        for n, person in enumerate(accounts):
            at = self.start + timedelta(days=10 + 19 * n, hours=10)
            if at >= self.now:
                break
            lines = [
                LineIn(
                    sku="EB-CARGO-750",
                    quantity=self.rng.randint(2, 4),
                    unit_price=Decimal("4290.00"),
                ),
                LineIn(sku="LK-SMART-GPS", quantity=2, unit_price=PRODUCTS["LK-SMART-GPS"].price),
            ]
            self.plan.orders.append(
                PlannedOrder(
                    OrderCreate(
                        external_id=f"AG-2026-{n + 1:03d}",
                        channel="agent",
                        placed_at=at,
                        customer=self.customer(person, at_till=False),
                        fulfilment="delivery",
                        lines=lines,
                        note="Flotta aziendale: consegna presso la sede",
                    ),
                    OrderOrigin.API,
                )
            )

    def overdue_today(self, people: list[DemoPerson]) -> None:
        """Click & collect orders of the last day that nobody has prepared yet: the desk shows
        them as overdue."""
        regulars = [p for p in people if p.email and p.home_store in ("MI", "TO")][:4]
        for n, person in enumerate(regulars):
            at = self.now - timedelta(hours=20 + 3 * n)
            sku = ("EB-CITY-500", "HL-URBAN-M-BLU", "LK-U-180", "CB-MILANO-D")[n]
            self.web_orders += 1
            data = OrderCreate(
                external_id=str(5_820_982_900_000_000_000 + self.web_orders),
                channel="web",
                placed_at=at,
                customer=self.customer(person, at_till=False),
                fulfilment="pickup",
                store=person.home_store,
                lines=self.lines(sku),
                label=f"#{1000 + self.web_orders}",
            )
            self.plan.orders.append(PlannedOrder(data, OrderOrigin.SHOPIFY))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), TZ).astimezone(UTC)


def plan_orders(
    people: list[DemoPerson],
    interactions: dict[int, list[Interaction]],
    *,
    now: datetime,
    rng: random.Random,
    days: int,
) -> OrderPlan:
    """Every order of the demo's history (pure)."""
    planner = _Planner(rng, now, days)
    for person in people:
        planner.person(person, interactions.get(person.index, []))
    planner.anonymous_tills()
    planner.agent(people)
    planner.overdue_today(people)
    planner.plan.orders.sort(key=lambda o: o.data.placed_at)
    return planner.plan


def seed_catalogue(session: Session, *, at: datetime) -> None:
    """The demo's products, with stock in every store."""
    for product in DEMO_CATALOGUE:
        service.create_product(
            session,
            data=ProductCreate(
                sku=product.sku, name=product.name, price=product.price, category=product.category
            ),
        )
    rng = random.Random(len(DEMO_CATALOGUE))
    for store in service.list_stores(session):
        for product in DEMO_CATALOGUE:
            if product.category != "officina":
                quantity = rng.randint(2, 8) if product.price > 500 else rng.randint(8, 40)
                service.set_stock(session, store=store, sku=product.sku, quantity=quantity)


def seed_orders(session: Session, *, plan: OrderPlan, region: str, now: datetime) -> None:
    """Save the planned orders day by day with a clock at each order's time, then play each
    pickup forward (ready, collected) at the times the plan says, up to now."""
    previous = session.info.get("clock")
    try:
        for batch in _batches(plan.orders):
            clock = FrozenClock(batch[-1].data.placed_at + timedelta(seconds=1))
            session.info["clock"] = clock
            order_service.save_orders(
                session,
                clock=clock,
                region=region,
                origin=batch[0].origin,
                items=[o.data for o in batch],
            )
        _play_pickups(session, plan=plan, now=now)
    finally:
        session.info["clock"] = previous


def _batches(orders: Iterable[PlannedOrder]) -> Iterable[list[PlannedOrder]]:
    """Consecutive orders of one origin, at most 200, so each is saved with the right origin."""
    batch: list[PlannedOrder] = []
    for order in orders:
        if batch and (order.origin != batch[0].origin or len(batch) >= 200):
            yield batch
            batch = []
        batch.append(order)
    if batch:
        yield batch


def _play_pickups(session: Session, *, plan: OrderPlan, now: datetime) -> None:
    steps: list[tuple[datetime, str, str]] = []
    pickups: dict[tuple[str, str], PlannedOrder] = {
        (str(o.data.channel), o.data.external_id): o
        for o in plan.orders
        if o.data.fulfilment == "pickup" and o.ready_delay is not None
    }
    rows = session.execute(
        select(Order.id, Order.channel, Order.external_id, Order.promised_ready_at).where(
            Order.fulfilment == "pickup"
        )
    )
    for order_id, channel, external_id, promised in rows:
        planned = pickups.get((channel, external_id))
        if planned is None or promised is None or planned.ready_delay is None:
            continue
        ready_at = max(
            promised + planned.ready_delay, planned.data.placed_at + timedelta(minutes=15)
        )
        if ready_at < now:
            steps.append((ready_at, "ready", order_id))
            collected_after = planned.collected_after or timedelta(hours=4)
            if ready_at + collected_after < now:
                steps.append((ready_at + collected_after, "collected", order_id))
    shipped = session.scalars(
        select(Order).where(
            Order.fulfilment == "delivery", Order.placed_at < now - timedelta(days=2)
        )
    )
    for order in shipped:  # the warehouse ships within two days
        order_service.mark_fulfilled(session, clock=FrozenClock(now), order=order)
    for at, action, order_id in sorted(steps):
        clock = FrozenClock(at)
        session.info["clock"] = clock
        order = order_service.get_order(session, order_id)
        if action == "ready":
            order_service.mark_ready(session, clock=clock, order=order)
        else:
            order_service.mark_collected(session, clock=clock, order=order)
    session.flush()
