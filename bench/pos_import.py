"""POS import throughput: `phygital import pos` on a till export, identity resolution included.

Writes a realistic till export (3 stores, 60 products plus a few skus the catalogue lacks, 2-3
lines per receipt, ~40 % anonymous sales, customers drawn from a pool of 100,000 so repeat
customers join the profiles made by their earlier receipts, each receipt naming them by some of
e-mail, phone and loyalty card), then runs the function the CLI runs (`run_pos_import`) on a fresh
database: SQLite (WAL, the default settings) or, with `--db postgresql`, a fresh database on the
local server. Prints rows/s and the total time, file reading included.

    python bench/pos_import.py [--rows 1000000] [--db sqlite|postgresql] [--batch 25000]
                               [--profile out.prof]
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import os
import random
import resource
import shutil
import tempfile
import time
import uuid
import zoneinfo
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from common import fresh_sqlite  # type: ignore[import-not-found]

STORES = [("MI-BRERA", "Milano Brera"), ("TO-CENTRO", "Torino Centro"), ("BO-MAGGIORE", "Bologna")]
CATEGORIES = ["caschi", "luci", "accessori", "abbigliamento", "borracce", "ricambi"]
ROME = zoneinfo.ZoneInfo("Europe/Rome")
START = datetime(2026, 8, 1, 9, 0, tzinfo=ROME)
PG_ADMIN = os.environ.get(
    "PHYGITAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def catalogue(count: int = 60) -> list[tuple[str, str, Decimal, str]]:
    rnd = random.Random(3)
    return [
        (
            f"SKU-{i:03d}",
            f"Prodotto {i}",
            Decimal(rnd.randrange(500, 15000)) / 100,
            CATEGORIES[i % len(CATEGORIES)],
        )
        for i in range(count)
    ]


def write_export(path: Path, *, rows: int, customers: int, seed: int = 11) -> int:
    """A till export of about `rows` rows (whole receipts); returns the receipts written."""
    rnd = random.Random(seed)
    products = catalogue()
    unknown = [(f"NEW-{i:02d}", "", Decimal("9.90"), "") for i in range(3)]
    span = 90 * 24 * 3600
    receipts = 0
    written = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "receipt_id",
                "sold_at",
                "store",
                "sku",
                "quantity",
                "unit_price",
                "customer_email",
                "customer_phone",
                "loyalty_card",
            ]
        )
        while written < rows:
            receipts += 1
            store = STORES[rnd.randrange(len(STORES))][0]
            at = START + timedelta(seconds=span * written // rows + rnd.randrange(60))
            email = phone = card = ""
            if rnd.random() >= 0.4:
                person = rnd.randrange(customers)
                shown = rnd.random()
                if shown < 0.5 or shown >= 0.85:
                    card = f"LC-{person:07d}"
                if shown >= 0.3:
                    email = f"cliente.{person}@example.it"
                if shown >= 0.7:
                    phone = f"+39 347 {person:07d}"
            lines = min(rnd.choice((2, 3)), rows - written)
            for _ in range(lines):
                sku, _, price, _ = (
                    rnd.choice(unknown) if rnd.random() < 0.01 else rnd.choice(products)
                )
                writer.writerow(
                    [
                        f"R-{store}-{receipts:08d}",
                        at.isoformat(timespec="seconds"),
                        store,
                        sku,
                        rnd.choice((1, 1, 1, 2)),
                        f"{price:.2f}",
                        email,
                        phone,
                        card,
                    ]
                )
            written += lines
    return receipts


def new_database(kind: str) -> str:
    if kind == "sqlite":
        return fresh_sqlite()
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"phygital_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if make_url(url).get_backend_name() != "postgresql":
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def prepare(url: str):  # type: ignore[no-untyped-def]
    """Migrate, then add the stores, the catalogue and stock through the services."""
    from phygital import migrate
    from phygital.commerce import service
    from phygital.commerce.schemas import ProductCreate, StoreCreate
    from phygital.core.clock import SystemClock
    from phygital.db import make_engine, make_session_factory, transaction
    from phygital.models import load_all

    load_all()
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_session_factory(engine, SystemClock())
    with transaction(factory) as session:
        stores = [
            service.create_store(session, data=StoreCreate(code=code, name=name))
            for code, name in STORES
        ]
        for sku, name, price, category in catalogue():
            service.create_product(
                session, data=ProductCreate(sku=sku, name=name, price=price, category=category)
            )
            for store in stores:
                service.set_stock(session, store=store, sku=sku, quantity=100_000)
    return engine, factory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--batch", type=int, default=None, help="rows per transaction")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the import")
    parser.add_argument("--twice", action="store_true", help="import the file a second time")
    parser.add_argument(
        "--in-process", action="store_true", help="parse in this process (no reader process)"
    )
    args = parser.parse_args()

    from sqlalchemy import func, select

    from phygital.commerce import imports
    from phygital.commerce.models import Order, OrderLine
    from phygital.core.clock import SystemClock
    from phygital.identity.models import Profile

    folder = Path(tempfile.mkdtemp(prefix="phygital-pos-"))
    export = folder / "vendite.csv"
    started = time.perf_counter()
    receipts = write_export(export, rows=args.rows, customers=args.customers)
    print(
        f"export: {args.rows:,} rows, {receipts:,} receipts, "
        f"{export.stat().st_size / 1e6:.0f} MB ({time.perf_counter() - started:.0f} s to write)"
    )
    url = new_database(args.db)
    engine, factory = prepare(url)
    batch = args.batch or imports.DEFAULT_POS_BATCH_SIZE
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    reader_before = usage.ru_utime + usage.ru_stime
    try:
        for attempt in range(2 if args.twice else 1):
            bad: list[tuple[int, str]] = []
            profiler = cProfile.Profile(time.process_time) if args.profile else None
            started = time.perf_counter()
            cpu = time.process_time()
            if profiler:
                profiler.enable()
            report = imports.run_pos_import(
                factory,
                clock=SystemClock(),
                file=imports.PosCsv(export),
                region="IT",
                tz=ROME,
                batch_size=batch,
                parallel=False if args.in_process else None,
                on_bad_row=lambda line, reason, found=bad: found.append((line, reason)),
            )
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            reader_cpu = children.ru_utime + children.ru_stime - reader_before
            reader_before += reader_cpu
            label = "import" if attempt == 0 else "re-import"
            print(
                f"{label} on {args.db} (batch {batch:,}): {report.rows:,} rows in {elapsed:.1f} s "
                f"= {report.rows / elapsed:,.0f} rows/s; receipts new {report.created:,}, "
                f"already imported {report.unchanged:,}, with a customer {report.customers:,}, "
                f"bad rows {report.bad:,}"
            )
            print(
                f"  CPU time: writer (this process) {cpu:.1f} s = {report.rows / cpu:,.0f} rows "
                f"per CPU second; reader process {reader_cpu:.1f} s; "
                f"load average {os.getloadavg()[0]:.1f}"
            )
            if bad:
                print(f"first bad row: line {bad[0][0]}: {bad[0][1]}")
        with factory() as session:
            orders = session.scalar(select(func.count()).select_from(Order))
            lines = session.scalar(select(func.count()).select_from(OrderLine))
            customers = session.scalar(
                select(func.count()).select_from(Profile).where(Profile.merged_into_id.is_(None))
            )
        print(f"database: {orders:,} orders, {lines:,} order lines, {customers:,} customers")
    finally:
        engine.dispose()
        drop_database(url)
        shutil.rmtree(folder, ignore_errors=True)
        if url.startswith("sqlite:///"):
            shutil.rmtree(Path(url.removeprefix("sqlite:///")).parent, ignore_errors=True)


if __name__ == "__main__":
    main()
