"""Ingestion throughput: POST /v1/batch against a running server on SQLite.

Batches of 500 messages, 8,000 people, 15 % identify calls; two concurrent senders. Prints
events/s, and the ratio to a bare `sqlite3.executemany` of the same events into a table of the
same shape, measured in the same run.

    python bench/ingest.py [--events 200000] [--senders 2]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import fresh_sqlite, running_server  # type: ignore[import-not-found]
from gen import batches, messages, people  # type: ignore[import-not-found]


def make_source(database_url: str) -> str:
    from phygital import migrate
    from phygital.db import make_engine, make_session_factory, transaction
    from phygital.tracking.models import Channel
    from phygital.tracking.service import create_source

    engine = make_engine(database_url)
    migrate.upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        key = create_source(session, name="bench", channel=Channel.WEB).write_key
    engine.dispose()
    return key


def bare_executemany(rows: list[dict]) -> float:
    """The same events into a bare table with the same columns and indexes, one transaction per
    500 rows: the floor any ingestion path on SQLite is compared with."""
    path = Path(tempfile.mkdtemp()) / "bare.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, source_id TEXT, message_id TEXT, "
        "profile_id TEXT, type TEXT, name TEXT, channel TEXT, sku TEXT, properties TEXT, "
        "traits TEXT, context TEXT, event_at TEXT, received_at TEXT, "
        "UNIQUE (source_id, message_id))"
    )
    db.execute("CREATE INDEX e1 ON events (profile_id, event_at)")
    db.execute("CREATE INDEX e2 ON events (sku, event_at)")
    tuples = [
        (
            "s",
            r["messageId"],
            r["anonymousId"],
            r["type"],
            r.get("event") or r.get("name"),
            "web",
            (r.get("properties") or {}).get("sku"),
            json.dumps(r.get("properties") or {}),
            json.dumps(r.get("traits") or {}),
            json.dumps(r.get("context") or {}),
            r["timestamp"],
            r["timestamp"],
        )
        for r in rows
    ]
    start = time.perf_counter()
    for i in range(0, len(tuples), 500):
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO events (source_id, message_id, profile_id, type, name, channel, sku, "
            "properties, traits, context, event_at, received_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            tuples[i : i + 500],
        )
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return len(tuples) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--people", type=int, default=8_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--senders", type=int, default=2)
    args = parser.parse_args()

    population = people(args.people)
    all_messages = list(messages(population, args.events))
    bodies = [json.dumps({"batch": b}).encode() for b in batches(iter(all_messages), args.batch)]
    url = fresh_sqlite()
    key = make_source(url)

    with running_server(url) as base:
        lock = threading.Lock()
        pending = list(reversed(bodies))
        failures: list[str] = []

        def sender() -> None:
            with httpx.Client(base_url=base, auth=(key, ""), timeout=60) as client:
                while True:
                    with lock:
                        if not pending:
                            return
                        body = pending.pop()
                    r = client.post(
                        "/v1/batch", content=body, headers={"content-type": "application/json"}
                    )
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text[:200]}")

        start = time.perf_counter()
        threads = [threading.Thread(target=sender) for _ in range(args.senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        if failures:
            raise SystemExit(f"{len(failures)} failed requests, first: {failures[0]}")
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.get("/health").status_code == 200

    rate = args.events / elapsed
    bare = bare_executemany(all_messages)
    print(
        f"events: {args.events:,}  people: {args.people:,}  batch: {args.batch}  "
        f"senders: {args.senders}"
    )
    print(f"/v1/batch on SQLite: {rate:,.0f} events/s ({elapsed:.1f} s)")
    print(f"bare sqlite3.executemany: {bare:,.0f} events/s")
    print(f"ratio phygital / bare: {rate / bare:.2f}")


if __name__ == "__main__":
    main()
