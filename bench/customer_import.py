"""Customer import throughput: `phygital import customers` (the CLI's `run_import`) on SQLite.

Writes a CRM-like export (user id, e-mail, phone, names, a loyalty card on every other row, two
consent columns with a proof time: 1.5 consent statements per row), imports it into a fresh
database in-process, and prints rows/s, the CPU time of the writer (this process) and of the
reading process, and the load average (the reference machine is shared).

    python bench/customer_import.py [--rows 100000] [--twice]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

FIRST = ["Giulia", "Marco", "Luca", "Sara", "Anna", "Paolo", "Elena", "Francesca", "Matteo"]
LAST = ["Rossi", "Bianchi", "Verdi", "Russo", "Ferrari", "Esposito", "Romano", "Colombo"]
COLUMNS = [
    "user_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "loyalty_card",
    "consent_marketing_email",
    "consent_marketing_whatsapp",
    "consent_at",
]


def write_export(path: Path, rows: int, seed: int = 3) -> None:
    rnd = random.Random(seed)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for i in range(rows):
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            out.writerow(
                [
                    f"u{i}",
                    f"{first}.{last}{i}@example.it".lower(),
                    f"+39 3{rnd.randint(10, 99)} {rnd.randint(1_000_000, 9_999_999)}",
                    first,
                    last,
                    f"LC{i:08d}" if i % 2 else "",
                    "yes" if i % 3 else "no",
                    "yes" if i % 2 else "",
                    "2026-10-01 10:00",
                ]
            )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--twice", action="store_true", help="import the same file again")
    args = parser.parse_args()

    from phygital import migrate
    from phygital.core.clock import SystemClock
    from phygital.db import make_engine, make_session_factory
    from phygital.identity import importer

    folder = Path(tempfile.mkdtemp(prefix="phygital-bench-"))
    export = folder / "customers.csv"
    started = time.perf_counter()
    write_export(export, args.rows)
    print(f"export: {args.rows:,} rows ({time.perf_counter() - started:.0f} s to write)")
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    migrate.upgrade(engine)
    factory = make_session_factory(engine)
    for run in ("first import", "the same file again")[: 2 if args.twice else 1]:
        load_before = os.getloadavg()[0]
        wall, cpu, child = time.perf_counter(), time.process_time(), children_cpu()
        report = importer.run_import(
            factory,
            clock=SystemClock(),
            file=importer.CustomerCsv(export),
            region="IT",
            tz=ZoneInfo("Europe/Rome"),
        )
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        child = children_cpu() - child
        print(
            f"{run}: {report.rows:,} rows in {wall:.1f} s = {report.rows / wall:,.0f} rows/s; "
            f"new {report.created:,}, joined {report.joined:,}, bad {report.bad:,}, "
            f"consent statements {report.consents:,}"
        )
        print(
            f"  CPU time: writer {cpu:.1f} s = {report.rows / cpu:,.0f} rows per CPU second; "
            f"reading process {child:.1f} s; load average {load_before:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after"
        )
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
