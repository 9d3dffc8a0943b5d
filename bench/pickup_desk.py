"""Pickup desk: GET /pickups of a store with 5,000 open pickups.

Builds a realistic store through the product's own services: three stores, a 60-product
catalogue, an order history (in-store and web, which feeds "bought together"), then 5,000 open
click & collect orders in one store (awaiting, ready, overdue), each customer with product views
from the web shop over the last 30 days. Then:

1. counts the SQL statements of one desk request, in-process (TestClient with a
   `before_cursor_execute` listener); tests/web/test_commerce_pages.py asserts that the
   number is the same for 5 and 40 pickups;
2. times GET /pickups for the store's seller through the ASGI app in this process (no socket):
   wall percentiles, and CPU per request in rounds of 50 (the mean, and the best round, which
   other work on the machine disturbs least), with `/health` and the home page measured the
   same way for comparison;
3. starts `phygital serve` and times the same requests over loopback HTTP (p50/p95/p99 of the
   full round trip: an upper bound of the server time).

It prints the load average before and after, and the CPU time of a fixed Python loop: wall
figures taken at a load above the number of cores are not reliable, CPU figures less affected.

    python bench/pickup_desk.py [--pickups 5000] [--history 20000] [--requests 200]
                                [--database-url URL]   (default: a fresh SQLite file)
                                [--skip-build]         (measure the database at URL, built
                                                        by an earlier run)
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from common import fresh_sqlite, percentile, running_server  # type: ignore[import-not-found]

SELLER = "banco@bench.example"
PASSWORD = "bench-password-0123"
STORE = "MI"
PRODUCTS = 60
CATEGORIES = ("e-bike", "bici", "caschi", "lucchetti", "luci", "accessori")
BATCH = 500
ROUND = 50  # requests per round of CPU measurement


def catalogue() -> list[tuple[str, str, str, Decimal]]:
    rng = random.Random(11)
    items = []
    for n in range(PRODUCTS):
        category = CATEGORIES[n % len(CATEGORIES)]
        price = Decimal(rng.choice((19, 39, 59, 89, 129, 549, 2290))) + Decimal("0.90")
        items.append((f"P-{n:03d}", f"Prodotto {category} {n:03d}", category, price))
    return items


def basket(rng: random.Random, skus: list[str]) -> list[str]:
    """1-4 products; neighbours in the catalogue go together (a bike, its helmet, its lock)."""
    first = rng.randrange(len(skus))
    size = rng.choice((1, 1, 2, 2, 3, 4))
    return sorted({skus[(first + rng.choice((0, 1, 2, 6))) % len(skus)] for _ in range(size)})


def order(
    external_id: str,
    *,
    channel: str,
    fulfilment: str,
    store: str | None,
    placed_at: datetime,
    skus: list[str],
    prices: dict[str, Decimal],
    person: int | None,
    label: str | None = None,
) -> Any:
    from phygital.commerce.schemas import OrderCreate

    customer: dict[str, Any] = {}
    if person is not None:
        customer = {
            "traits": {"name": f"Cliente {person:05d}"},
            "identifiers": [
                {"kind": "email", "value": f"cliente{person:05d}@bench.example"},
                {"kind": "user_id", "value": f"web-{person:05d}"},
            ],
        }
    return OrderCreate.model_validate(
        {
            "external_id": external_id,
            "channel": channel,
            "fulfilment": fulfilment,
            "store": store,
            "placed_at": placed_at.isoformat(),
            "customer": customer,
            "lines": [{"sku": s, "quantity": 1, "unit_price": str(prices[s])} for s in skus],
            "label": label,
        }
    )


def build(url: str, *, pickups: int, history: int) -> None:
    from sqlalchemy import insert, select, update

    from phygital import migrate
    from phygital.auth import service as auth_service
    from phygital.auth.models import Role
    from phygital.commerce import orders, service
    from phygital.commerce.models import Order, OrderOrigin, OrderStatus, Store
    from phygital.commerce.schemas import ProductCreate, StoreCreate
    from phygital.core.clock import FrozenClock
    from phygital.db import make_engine, make_session_factory, transaction
    from phygital.tracking.models import Event, Source

    now = datetime.now(UTC)
    clock = FrozenClock(now)
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_session_factory(engine, clock)
    rng = random.Random(5)
    items = catalogue()
    skus = [sku for sku, *_ in items]
    prices = {sku: price for sku, _, _, price in items}
    split = [("09:30", "13:00"), ("15:30", "19:30")]
    with transaction(factory) as session:
        for code, name in (("MI", "Milano"), ("TO", "Torino"), ("BO", "Bologna")):
            service.create_store(
                session,
                data=StoreCreate(
                    code=code,
                    name=f"Velò {name}",
                    opening_hours={d: split for d in ("mon", "tue", "wed", "thu", "fri", "sat")},
                    prep_minutes=120,
                ),
            )
        for sku, name, category, price in items:
            service.create_product(
                session, data=ProductCreate(sku=sku, name=name, price=price, category=category)
            )
        for sku in skus:
            mi = service.get_store(session, code=STORE)
            service.set_stock(session, store=mi, sku=sku, quantity=rng.randrange(0, 12))
        auth_service.create_user(
            session,
            email=SELLER,
            name="Banco",
            role=Role.SELLER,
            password=PASSWORD,
            store_code=STORE,
        )

    started = time.perf_counter()
    population = max(pickups * 2, 1000)
    past: list[Any] = []
    for n in range(history):
        in_store = rng.random() < 0.6
        past.append(
            order(
                f"h-{n:06d}",
                channel="store" if in_store else "web",
                fulfilment="in_store" if in_store else "delivery",
                store=rng.choice(("MI", "TO", "BO")) if in_store else None,
                placed_at=now - timedelta(days=rng.uniform(2, 90)),
                skus=basket(rng, skus),
                prices=prices,
                person=rng.randrange(population) if rng.random() < 0.8 else None,
            )
        )
    open_orders = []
    for n in range(pickups):
        # A third placed within the hour (promised later today or at the next opening), the
        # rest over the last ten days (overdue unless ready).
        ago = (
            timedelta(minutes=rng.uniform(1, 60))
            if n % 3 == 0
            else timedelta(days=rng.uniform(0.1, 10))
        )
        open_orders.append(
            order(
                f"p-{n:06d}",
                channel="web",
                fulfilment="pickup",
                store=STORE,
                placed_at=now - ago,
                skus=basket(rng, skus),
                prices=prices,
                person=n,
                label=f"#{100000 + n}",
            )
        )
    everything = past + open_orders
    for start in range(0, len(everything), BATCH):
        with transaction(factory) as session:
            orders.save_orders(
                session,
                clock=clock,
                region="IT",
                origin=OrderOrigin.API,
                items=everything[start : start + BATCH],
            )
    print(f"{len(everything):,} orders saved in {time.perf_counter() - started:.0f} s")

    with transaction(factory) as session:
        store_id = session.scalar(select(Store.id).where(Store.code == STORE))
        open_ids = list(
            session.execute(
                select(Order.id, Order.promised_ready_at, Order.profile_id)
                .where(Order.store_id == store_id, Order.status == OrderStatus.AWAITING)
                .order_by(Order.external_id)
            )
        )
        # 40 % are ready; a few of those have waited past their hold days.
        for index, (order_id, promised, _) in enumerate(open_ids):
            if index % 5 in (1, 3):
                ready_at = min(promised or now, now) - timedelta(minutes=5)
                collect_by = ready_at + timedelta(days=7)
                if index % 50 == 1:
                    collect_by = now - timedelta(hours=1)  # not collected in time: overdue
                session.execute(
                    update(Order)
                    .where(Order.id == order_id)
                    .values(status=OrderStatus.READY, ready_at=ready_at, collect_by=collect_by)
                )
        source = Source(name="Web shop", channel="web", write_key="wk_bench_desk", events_count=0)
        session.add(source)
        session.flush()
        rows = []
        for index, (_, _, profile_id) in enumerate(open_ids):
            for k in range(8):
                rows.append(
                    {
                        "source_id": source.id,
                        "message_id": f"m-{index}-{k}",
                        "profile_id": profile_id,
                        "type": "track",
                        "name": "Product Viewed",
                        "channel": "web" if k < 6 else "store",
                        "sku": rng.choice(skus),
                        "properties": {},
                        "traits": {},
                        "context": {},
                        "event_at": now - timedelta(days=rng.uniform(0, 45)),
                        "received_at": now,
                    }
                )
        for start in range(0, len(rows), 5000):
            session.execute(insert(Event), rows[start : start + 5000])
    print(f"{len(open_ids):,} open pickups in {STORE}, {len(rows):,} product events")
    if engine.dialect.name == "postgresql":
        # Statistics, as autovacuum would have them by now (a test server may run without
        # it): without them the planner guesses and scans.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def in_process(url: str, requests: int) -> dict[str, Any]:
    """The desk through the ASGI app in this process (TestClient): SQL statements of one
    request, then wall and CPU time of `requests` requests (no HTTP server, no socket), and
    the CPU time of `/health` and the home page in the same process, what any request costs
    here (the client's side included)."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from phygital.config import load_settings
    from phygital.core.clock import SystemClock
    from phygital.db import make_engine
    from phygital.main import create_app

    engine = make_engine(url)
    settings = load_settings(
        database_url=url, secret_key="bench-secret-key-0123456789abcdef0123456789", _env_file=None
    )
    app = create_app(settings, clock=SystemClock(), engine=engine)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    timings: list[float] = []
    with TestClient(app, base_url="http://testserver") as client:
        log_in(client)
        for _ in range(20):  # warm-up
            client.get("/pickups")
        event.listen(engine, "before_cursor_execute", count)
        page = client.get("/pickups")
        event.remove(engine, "before_cursor_execute", count)
        # CPU in rounds: other work on the machine slows some of them down, the best round
        # is the closest to what a request costs.
        rounds: list[float] = []
        for start in range(0, requests, ROUND):
            cpu = time.process_time()
            for _ in range(min(ROUND, requests - start)):
                t0 = time.perf_counter()
                client.get("/pickups")
                timings.append((time.perf_counter() - t0) * 1000)
            rounds.append((time.process_time() - cpu) * 1000 / min(ROUND, requests - start))
        others = {path: cpu_per_request(client, path, requests) for path in ("/health", "/")}
    engine.dispose()
    return {
        "queries": len(statements),
        "cards": page.text.count('class="pickup card'),
        "timings": timings,
        "cpu": sum(rounds) / len(rounds),
        "best_cpu": min(rounds),
        "others": others,
    }


def cpu_per_request(client: httpx.Client, path: str, requests: int) -> float:
    """CPU per request of `path` (ms), the best round as for the desk."""
    for _ in range(20):  # warm-up
        assert client.get(path).status_code == 200
    rounds = []
    for _ in range(max(requests // ROUND, 1)):
        started = time.process_time()
        for _ in range(ROUND):
            client.get(path)
        rounds.append((time.process_time() - started) * 1000 / ROUND)
    return min(rounds)


def log_in(client: httpx.Client) -> None:
    page = client.get("/login")
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    token = page.text[start : page.text.index('"', start)]
    response = client.post(
        "/login",
        data={"email": SELLER, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def reference_loop() -> float:
    """Seconds of CPU for a fixed pure-Python loop: how fast this machine runs Python right
    now (other work slows it down), so runs at different times can be compared."""
    started = time.process_time()
    sum(i * i for i in range(10_000_000))
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pickups", type=int, default=5000)
    parser.add_argument("--history", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--skip-build", action="store_true", help="measure a database built by an earlier run"
    )
    args = parser.parse_args()

    url = args.database_url or fresh_sqlite()
    if not args.skip_build:
        build(url, pickups=args.pickups, history=args.history)
    print(load_average("before measuring"))
    local = in_process(url, args.requests)
    print(f"one desk request: {local['queries']} SQL statements, {local['cards']} cards")
    print(
        f"in-process (TestClient, {args.requests} requests): "
        f"p50 {percentile(local['timings'], 50):.1f} ms  "
        f"p95 {percentile(local['timings'], 95):.1f} ms  "
        f"p99 {percentile(local['timings'], 99):.1f} ms  (CPU {local['cpu']:.1f} ms/request, "
        f"best round of {ROUND} {local['best_cpu']:.1f} ms)"
    )
    print(
        f"same process, CPU per request (best round of {ROUND}): "
        + ", ".join(f"{path} {cpu:.1f} ms" for path, cpu in local["others"].items())
        + f", /pickups {local['best_cpu']:.1f} ms"
    )

    timings: list[float] = []
    size = 0
    with running_server(url) as base, httpx.Client(base_url=base, timeout=30) as client:
        log_in(client)
        for _ in range(20):  # warm-up
            client.get("/pickups")
        server_cpu = server_cpu_seconds()
        for _ in range(args.requests):
            t0 = time.perf_counter()
            response = client.get("/pickups")
            timings.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.status_code
            size = len(response.content)
        server_cpu = server_cpu_seconds() - server_cpu
    print(
        f"phygital serve over loopback ({args.pickups:,} open pickups, {size / 1024:.0f} KiB "
        f"page, {args.requests} requests): p50 {percentile(timings, 50):.1f} ms  "
        f"p95 {percentile(timings, 95):.1f} ms  p99 {percentile(timings, 99):.1f} ms  "
        f"(server CPU {server_cpu * 1000 / args.requests:.1f} ms/request)"
    )
    print(f"{load_average('after')}; reference loop {reference_loop():.2f} s of CPU")


def server_cpu_seconds() -> float:
    """CPU time (user + system) used so far by the `phygital serve` this script started (a
    child process; Linux /proc), to tell the server's CPU per request from the client's. The
    database server's own CPU (PostgreSQL) is not in it."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == os.getpid() and b"serve" in cmdline:
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def load_average(when: str) -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {when}: {one:.1f} {five:.1f} {fifteen:.1f}"


if __name__ == "__main__":
    main()
