"""Data generator for the benchmarks: a deterministic population of people and their events.

Two outputs: Segment-spec messages (for the HTTP ingestion benchmark) and rows loaded straight
into the database tables (to build large histories quickly for read benchmarks).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

FIRST = [
    "Giulia",
    "Marco",
    "Luca",
    "Sara",
    "Paolo",
    "Elena",
    "Andrea",
    "Chiara",
    "Matteo",
    "Francesca",
    "Davide",
    "Martina",
    "Simone",
    "Valentina",
    "Alessandro",
    "Federica",
]
LAST = [
    "Rossi",
    "Bianchi",
    "Ferrari",
    "Russo",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "De Luca",
    "Costa",
    "Giordano",
    "Mancini",
]
SKUS = [f"SKU-{i:04d}" for i in range(1, 401)]
EVENTS = ["Product Viewed", "Product Added", "Product Viewed", "Checkout Started"]

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    index: int
    user_id: str
    anonymous_id: str
    email: str
    phone: str
    first_name: str
    last_name: str


def people(count: int, seed: int = 7) -> list[Person]:
    rnd = random.Random(seed)
    result = []
    for i in range(count):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        result.append(
            Person(
                index=i,
                user_id=f"cust-{i:07d}",
                anonymous_id=str(uuid.UUID(int=rnd.getrandbits(128))),
                email=f"{first}.{last}.{i}@example.com".lower().replace(" ", ""),
                phone=f"+39347{i:07d}",
                first_name=first,
                last_name=last,
            )
        )
    return result


def messages(
    population: list[Person],
    count: int,
    *,
    identify_share: float = 0.15,
    seed: int = 11,
    days: int = 90,
) -> Iterator[dict[str, Any]]:
    """`count` Segment messages spread over the last `days`, mixing track/page and identify."""
    rnd = random.Random(seed)
    span = days * 24 * 3600
    for n in range(count):
        person = rnd.choice(population)
        at = NOW - timedelta(seconds=rnd.randrange(span))
        base: dict[str, Any] = {
            "messageId": f"m-{seed}-{n}",
            "anonymousId": person.anonymous_id,
            "timestamp": at.isoformat(),
            "context": {"library": {"name": "bench", "version": "1"}},
        }
        if rnd.random() < identify_share:
            base.update(
                type="identify",
                userId=person.user_id,
                traits={
                    "email": person.email,
                    "phone": person.phone,
                    "first_name": person.first_name,
                    "last_name": person.last_name,
                },
            )
        elif rnd.random() < 0.5:
            sku = rnd.choice(SKUS)
            base.update(
                type="page", name=f"Product {sku}", properties={"path": f"/p/{sku}", "sku": sku}
            )
        else:
            base.update(
                type="track",
                event=rnd.choice(EVENTS),
                properties={"sku": rnd.choice(SKUS), "price": rnd.randrange(10, 3000)},
            )
        yield base


def batches(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _sql_time(at: datetime) -> str:
    """SQLAlchemy's SQLite storage format for our UTC datetimes."""
    return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_history(
    sqlite_path: str,
    *,
    profiles: int,
    events: int,
    seed: int = 5,
    days: int = 90,
    progress: bool = True,
) -> list[str]:
    """Fill a migrated SQLite database with `profiles` customers (user id, e-mail, device) and
    `events` events spread over them, straight through sqlite3 for speed. Returns profile ids."""
    import json
    import sqlite3

    rnd = random.Random(seed)
    db = sqlite3.connect(sqlite_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    now = _sql_time(NOW)
    source_id = uuid.uuid4().hex
    db.execute(
        "INSERT INTO sources (id, name, channel, write_key, events_count, created_at, updated_at)"
        " VALUES (?, 'history', 'web', ?, ?, ?, ?)",
        (source_id, "wk_history_" + source_id[:8], events, now, now),
    )
    ids = [uuid.UUID(int=rnd.getrandbits(128)).hex for _ in range(profiles)]
    population = people(profiles, seed)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO profiles (id, canonical_id, traits, trait_times, search_text, channels, "
        "events_count, orders_count, revenue, first_seen_at, last_seen_at, created_at, "
        "updated_at) VALUES (?, ?, ?, '{}', ?, '{\"web\": \"2026-11-20\"}', ?, 0, 0, ?, ?, ?, ?)",
        (
            (
                pid,
                pid,
                json.dumps({"first_name": p.first_name, "last_name": p.last_name}),
                f"{p.first_name} {p.last_name} {p.email}".lower(),
                events // profiles,
                _sql_time(NOW - timedelta(days=days)),
                now,
                now,
                now,
            )
            for pid, p in zip(ids, population, strict=True)
        ),
    )
    db.executemany(
        "INSERT INTO identifiers (id, profile_id, kind, value, key, first_seen_at, origin) "
        "VALUES (?, ?, ?, ?, ?, ?, 'bench')",
        (
            (uuid.uuid4().hex, pid, kind, value, f"{kind}:{value}", now)
            for pid, p in zip(ids, population, strict=True)
            for kind, value in (
                ("user_id", p.user_id),
                ("email", p.email),
                ("anonymous_id", p.anonymous_id),
            )
        ),
    )
    db.execute("COMMIT")
    span = days * 24 * 3600
    chunk = 200_000
    for start in range(0, events, chunk):
        rows = []
        for n in range(start, min(events, start + chunk)):
            sku = SKUS[n % len(SKUS)]
            at = _sql_time(NOW - timedelta(seconds=rnd.randrange(span)))
            rows.append(
                (
                    source_id,
                    f"h-{n}",
                    ids[rnd.randrange(profiles)],
                    "track",
                    "Product Viewed",
                    "web",
                    sku,
                    f'{{"sku": "{sku}", "price": 120}}',
                    "{}",
                    "{}",
                    at,
                    at,
                )
            )
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO events (source_id, message_id, profile_id, type, name, channel, sku, "
            "properties, traits, context, event_at, received_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        db.execute("COMMIT")
        if progress:
            print(f"  loaded {min(events, start + chunk):,} / {events:,} events", flush=True)
    db.execute("ANALYZE")
    db.close()
    return ids
