"""Journeys at scale: rebuild, the journeys API, and the cost of incremental detection per order.

Builds (once, then reuses from the cache directory) a SQLite database with a year of history:
10,000,000 events and 1,000,000 orders of ~250,000 customers in 20 stores (bench/gen.py:
`plan_commerce` + `load_commerce`; ROPO and showrooming correlated with the orders), migrated to
the current schema (indexes the models declare but no migration creates yet are created too, and
listed). Then measures:

(a) `phygital journeys rebuild` over everything (the CLI's function, in-process), journeys per
    kind: a re-run, with the journeys of the previous run stored (what a rebuild after a change
    of rules, or a repair, meets), or from an empty journeys table with `--fresh`;
(b) GET /api/v1/journeys?from=&to=&store= for one month and one store (months and stores drawn
    at random), against `phygital serve` over loopback HTTP: p50/p95 of the round trip;
(c) the cost of incremental detection per order: `save_orders` of a single identified in-store
    sale (of a product its customer viewed online in the last days), in-process, with and
    without the journeys subscriber of `orders.saved`, alternating; each order in its own
    transaction, rolled back (the cached database stays as built). Also `refresh_orders([id])`
    alone on existing orders.

    python bench/journeys.py [--events 10000000] [--orders 1000000] [--seed 5]
                             [--requests 200] [--singles 300] [--cache /tmp]
                             [--skip rebuild,api,incremental] [--profile rebuild.prof]
                             [--fresh]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import random
import resource
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from common import percentile, running_server  # type: ignore[import-not-found]
from gen import NOW, load_commerce, plan_commerce  # type: ignore[import-not-found]

# Bump when the generator's output changes, so a stale cached database is not reused.
GEN_VERSION = 1
SECRET = "bench-secret-key-0123456789abcdef0123456789"


def build(path: Path, *, events: int, orders: int, seed: int) -> None:
    from phygital import migrate
    from phygital.db import make_engine

    partial = path.with_name(path.name + ".building")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{partial}")
    migrate.upgrade(engine)
    engine.dispose()
    started = time.perf_counter()
    plan = plan_commerce(events=events, orders=orders, seed=seed)
    print(
        f"planned {len(plan.events):,} events, {len(plan.orders):,} orders, "
        f"{plan.profiles:,} profiles in {time.perf_counter() - started:.0f} s "
        f"(purchases planned as ropo/showrooming/c&c: {plan.expected})",
        flush=True,
    )
    load_commerce(str(partial), plan, seed=seed)
    del plan
    for leftover in (Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    partial.rename(path)
    print(f"built {path} in {time.perf_counter() - started:.0f} s", flush=True)


def migrate_to_head(url: str) -> list[str]:
    """Bring the cached database to the current schema (a cache built earlier may predate the
    last migrations), then create the indexes the models declare that the migrations do not
    (yet). An index an earlier run created before a migration made it is dropped and left to
    the migration."""
    import re

    from sqlalchemy.exc import OperationalError

    from phygital import migrate
    from phygital.db import Base, make_engine
    from phygital.models import load_all

    load_all()
    engine = make_engine(url)
    changed = []
    for _ in range(10):
        try:
            started = time.perf_counter()
            if not migrate.is_current(engine):
                migrate.upgrade(engine)
                changed.append(f"migrated ({time.perf_counter() - started:.0f} s)")
            break
        except OperationalError as exc:
            found = re.search(r"index (\w+) already exists", str(exc))
            if not found:
                raise
            with engine.begin() as conn:
                conn.exec_driver_sql(f"DROP INDEX {found.group(1)}")
            changed.append(f"dropped {found.group(1)} for the migration to create")
    with engine.begin() as conn:
        present = set(
            conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'").scalars()
        )
        for table in Base.metadata.sorted_tables:
            for index in table.indexes:
                if index.name not in present:
                    started = time.perf_counter()
                    index.create(conn)
                    changed.append(
                        f"created {index.name}, not migrated yet"
                        f" ({time.perf_counter() - started:.0f} s)"
                    )
        if changed:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return changed


def measure_rebuild(url: str, profile: str | None, *, fresh: bool) -> None:
    from sqlalchemy import delete, func, select

    from phygital.config import get_settings
    from phygital.db import make_engine
    from phygital.journeys import cli
    from phygital.journeys.models import Journey

    os.environ["PHYGITAL_DATABASE_URL"] = url
    os.environ["PHYGITAL_SECRET_KEY"] = SECRET
    get_settings.cache_clear()
    engine = make_engine(url)
    with engine.begin() as conn:
        stored = conn.scalar(select(func.count()).select_from(Journey))
        if fresh:
            conn.execute(delete(Journey))
    engine.dispose()
    profiler = cProfile.Profile() if profile else None
    load = os.getloadavg()[0]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    cli.rebuild(start=None, end=None)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    helper = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    engine = make_engine(url)
    with engine.connect() as conn:
        per_kind = select(Journey.kind, func.count()).group_by(Journey.kind)
        kinds = {str(kind): count for kind, count in conn.execute(per_kind)}
    engine.dispose()
    before = "an empty journeys table" if fresh or not stored else f"{stored:,} journeys stored"
    print(
        f"(a) phygital journeys rebuild over everything ({before}): {elapsed:.1f} s"
        f" ({cpu:.1f} s of CPU in the process, {helper:.1f} s in its helper process;"
        f" load average {load:.2f} before, {os.getloadavg()[0]:.2f} after)"
    )
    for kind, count in sorted(kinds.items()):
        print(f"    {kind}: {count:,} journeys")


def measure_api(url: str, requests: int) -> None:
    from sqlalchemy import select

    from phygital.auth.models import Role
    from phygital.auth.service import create_token
    from phygital.commerce.models import Store
    from phygital.db import make_engine, make_session_factory, transaction

    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        _, token = create_token(session, name="bench-journeys", role=Role.MANAGER)
        stores = list(session.scalars(select(Store.code).order_by(Store.code)))
    engine.dispose()
    months = []
    first = datetime(NOW.year, NOW.month, 1) - timedelta(days=1)
    for _ in range(11):  # the last eleven whole months
        first = first.replace(day=1)
        months.append(first)
        first -= timedelta(days=1)
    rnd = random.Random(13)
    load = os.getloadavg()[0]
    timings: list[float] = []
    sizes: list[int] = []
    with (
        running_server(url) as base,
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client,
    ):
        for n in range(requests + 10):
            month = rnd.choice(months)
            end = (month + timedelta(days=32)).replace(day=1)
            params = {"from": month.date().isoformat(), "to": end.date().isoformat()}
            params["store"] = rnd.choice(stores)
            started = time.perf_counter()
            response = client.get("/api/v1/journeys", params=params)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.text
            if n >= 10:  # the first ten warm the server up
                timings.append(elapsed)
                summary = response.json()["summary"]["by_kind"]
                sizes.append(sum(k["count"] for k in summary.values()))
    print(
        f"(b) GET /api/v1/journeys?from=&to=&store= (one month, one store; phygital serve, "
        f"loopback HTTP, {len(timings)} requests): p50 {percentile(timings, 50):.1f} ms, "
        f"p95 {percentile(timings, 95):.1f} ms, p99 {percentile(timings, 99):.1f} ms; "
        f"{statistics.median(sizes):,.0f} journeys summarised per request (median);"
        f" load average {load:.2f} before, {os.getloadavg()[0]:.2f} after"
    )


def measure_incremental(url: str, singles: int) -> None:
    from sqlalchemy import select, text

    from phygital.commerce.models import Order, OrderOrigin
    from phygital.commerce.orders import save_orders
    from phygital.commerce.schemas import OrderCreate
    from phygital.core import events
    from phygital.core.clock import FrozenClock
    from phygital.db import make_engine, make_session_factory
    from phygital.journeys import hooks, service
    from phygital.main import load_hooks

    load_hooks()
    clock = FrozenClock(NOW + timedelta(minutes=5))
    engine = make_engine(url)
    factory = make_session_factory(engine, clock)
    with factory() as session:
        # Identified customers who viewed a product online in the last ten days of the history.
        candidates = session.execute(
            text(
                "SELECT i.value, e.sku, s.code FROM events e"
                " JOIN profiles p ON p.id = e.profile_id"
                " JOIN identifiers i ON i.profile_id = p.canonical_id AND i.kind = 'email'"
                " JOIN stores s ON s.code = 'ST-01'"
                " WHERE e.sku = :sku AND e.event_at >= :since AND e.channel = 'web'"
                " LIMIT :n"
            ),
            {
                "sku": "SKU-0001",
                "since": (NOW - timedelta(days=10)).strftime("%Y-%m-%d %H:%M:%S"),
                "n": singles,
            },
        ).all()
        recent = list(
            session.scalars(
                select(Order.id)
                .where(Order.fulfilment == "in_store", Order.profile_id.is_not(None))
                .order_by(Order.placed_at.desc())
                .limit(singles)
            )
        )
    if not candidates:
        raise SystemExit("no customer with recent online research: is the database empty?")
    subscribers = events._SUBSCRIBERS.setdefault("orders.saved", [])
    wired = hooks._orders in subscribers
    original = list(subscribers)
    calls = {"n": 0}
    inside: list[float] = []  # time spent in the journeys subscriber itself

    def counting(session: Any, **payload: Any) -> None:
        calls["n"] += 1
        started = time.perf_counter()
        hooks._orders(session, **payload)
        inside.append((time.perf_counter() - started) * 1000)

    timings: dict[str, list[float]] = {"with": [], "without": []}
    found = 0
    for n in range(2 * singles + 20):
        email, sku, store = candidates[(n // 2) % len(candidates)]
        mode = "with" if n % 2 == 0 else "without"
        if wired:
            subscribers[:] = [
                (counting if fn is hooks._orders else fn)
                for fn in original
                if mode == "with" or fn is not hooks._orders
            ]
        order = OrderCreate.model_validate(
            {
                "external_id": f"bench-{n}",
                "channel": "store",
                "store": store,
                "placed_at": clock.now().isoformat(),
                "customer": {"identifiers": [{"kind": "email", "value": email}]},
                "lines": [{"sku": sku, "quantity": 1, "unit_price": "129.00"}],
            }
        )
        with factory() as session:
            started = time.perf_counter()
            [saved] = save_orders(
                session, clock=clock, region="IT", origin=OrderOrigin.POS, items=[order]
            )
            if mode == "with" and not wired:  # the lead's wiring not there yet: call it
                service.refresh_orders(session, [saved.order_id])
            elapsed = (time.perf_counter() - started) * 1000
            if mode == "with":
                found += bool(
                    session.execute(
                        text("SELECT 1 FROM journeys WHERE order_id = :o"), {"o": saved.order_id}
                    ).first()
                )
            session.rollback()
        if n >= 20:
            timings[mode].append(elapsed)
    subscribers[:] = original
    refresh: list[float] = []
    with factory() as session:
        rules = service.get_rules(session)
        for order_id in recent:
            started = time.perf_counter()
            service.refresh_orders(session, [order_id], rules=rules)
            refresh.append((time.perf_counter() - started) * 1000)
        session.rollback()
    engine.dispose()
    how = (
        "through the orders.saved subscriber"
        if wired and calls["n"]
        else "calling refresh_orders after save_orders (orders.saved not published yet)"
    )
    with_, without = timings["with"], timings["without"]
    print(f"(c) one in-store sale through save_orders, {len(with_)} each, {how}:")
    print(
        f"    with journeys p50 {percentile(with_, 50):.2f} ms, p95 {percentile(with_, 95):.2f}"
        f" ms; without p50 {percentile(without, 50):.2f} ms, p95 {percentile(without, 95):.2f}"
        f" ms; added: median {statistics.median(with_) - statistics.median(without):.2f} ms,"
        f" mean {statistics.mean(with_) - statistics.mean(without):.2f} ms;"
        f" {found} of {len(with_) + 10} found their ROPO journey"
    )
    if inside:
        spent = inside[10:]
        print(
            f"    time inside the journeys subscriber of orders.saved: p50"
            f" {percentile(spent, 50):.2f} ms, p95 {percentile(spent, 95):.2f} ms"
        )
    print(
        f"    refresh_orders([id]) alone on {len(refresh)} existing in-store sales: "
        f"p50 {percentile(refresh, 50):.2f} ms, p95 {percentile(refresh, 95):.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--cache", type=Path, default=Path("/tmp"))
    parser.add_argument("--skip", default="", help="comma-separated: rebuild, api, incremental")
    parser.add_argument("--profile", help="write a cProfile of the rebuild to this file")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="empty the journeys table first (a first rebuild rather than a re-run)",
    )
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    path = args.cache / (
        f"phygital-journeys-e{args.events}-o{args.orders}-s{args.seed}-v{GEN_VERSION}.db"
    )
    if path.exists():
        print(f"reusing {path}")
    else:
        build(path, events=args.events, orders=args.orders, seed=args.seed)
    url = f"sqlite:///{path}"
    changed = migrate_to_head(url)
    if changed:
        print("schema: " + ", ".join(changed))
    print(f"events: {args.events:,}  orders: {args.orders:,}  seed: {args.seed}  ({url})")
    if "rebuild" not in skip:
        measure_rebuild(url, args.profile, fresh=args.fresh)
    if "api" not in skip:
        measure_api(url, args.requests)
    if "incremental" not in skip:
        measure_incremental(url, args.singles)


if __name__ == "__main__":
    main()
