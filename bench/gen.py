"""Data generator for the benchmarks: a deterministic population of people and their events.

Two outputs: Segment-spec messages (for the HTTP ingestion benchmark) and rows loaded straight
into the database tables (to build large histories quickly for read benchmarks).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
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


# -- commerce histories: people, their research on every channel, and their orders ---------------
#
# `plan_commerce` decides, deterministically from a seed, who exists (customers, the anonymous
# devices some of them are later identified on, visitors never identified), what each of them did
# (product pages and views on the web and in the app, products tried at a till) and what they
# bought (in-store sales, web orders delivered or collected), correlated so that a realistic share
# of purchases are ROPO (researched online within the window before an in-store sale; a few just
# outside it) or showrooming (tried in a store before buying online). `load_commerce` writes the
# plan straight into a migrated SQLite database with executemany, in the columns the application
# writes, events and orders in time order (as a real event store fills up).

STORE_CITIES = [
    "Milano",
    "Torino",
    "Bologna",
    "Roma",
    "Firenze",
    "Napoli",
    "Genova",
    "Verona",
    "Padova",
    "Bari",
    "Trieste",
    "Parma",
    "Brescia",
    "Bergamo",
    "Modena",
    "Pisa",
    "Lecce",
    "Trento",
    "Udine",
    "Como",
]
CATEGORIES = ["e-bike", "bici", "caschi", "luci", "lucchetti", "abbigliamento", "accessori"]
PRICES = (19.9, 24.5, 39.0, 49.9, 89.9, 129.0, 249.0, 549.0, 1290.0, 2290.0)

# Event kinds (channel, type, name, whether it carries an sku).
WEB_PAGE, APP_SCREEN, WEB_VIEWED, APP_VIEWED, WEB_ADDED, STORE_TRIED, WEB_SIGNIN = range(7)
EVENT_KINDS: dict[int, tuple[str, str, str, bool]] = {
    WEB_PAGE: ("web", "page", "Prodotto", True),
    APP_SCREEN: ("app", "screen", "Prodotto", True),
    WEB_VIEWED: ("web", "track", "Product Viewed", True),
    APP_VIEWED: ("app", "track", "Product Viewed", True),
    WEB_ADDED: ("web", "track", "Product Added", True),
    STORE_TRIED: ("store", "track", "Product Tried", True),
    WEB_SIGNIN: ("web", "track", "Signed In", False),
}
ONLINE_RESEARCH = (WEB_PAGE, WEB_VIEWED, WEB_VIEWED, APP_SCREEN, APP_VIEWED, WEB_ADDED)
# Background activity, weighted: most of it is browsing on the web.
NOISE_KINDS = (
    [WEB_PAGE] * 35
    + [APP_SCREEN] * 10
    + [WEB_VIEWED] * 25
    + [APP_VIEWED] * 8
    + [WEB_ADDED] * 7
    + [STORE_TRIED] * 8
    + [WEB_SIGNIN] * 7
)

IN_STORE, DELIVERY, PICKUP = "in_store", "delivery", "pickup"
HOUR = 3600
DAY_SECONDS = 24 * HOUR

# An event is one int: time (seconds from the start of the history) | profile | sku | store | kind.
_KIND_BITS, _STORE_BITS, _SKU_BITS, _PROFILE_BITS = 4, 5, 10, 23


def _pack(at: int, profile: int, sku: int, store: int, kind: int) -> int:
    return (((at << _PROFILE_BITS | profile) << _SKU_BITS | sku) << _STORE_BITS | store) << (
        _KIND_BITS
    ) | kind


def _unpack(value: int) -> tuple[int, int, int, int, int]:
    kind = value & ((1 << _KIND_BITS) - 1)
    value >>= _KIND_BITS
    store = value & ((1 << _STORE_BITS) - 1)
    value >>= _STORE_BITS
    sku = value & ((1 << _SKU_BITS) - 1)
    value >>= _SKU_BITS
    profile = value & ((1 << _PROFILE_BITS) - 1)
    return value >> _PROFILE_BITS, profile, sku, store, kind


@dataclass(frozen=True)
class PlannedOrder:
    at: int  # seconds from the start of the history
    customer: int  # index of the customer, -1 for an anonymous till sale
    fulfilment: str
    channel: str
    store: int  # index into the stores, -1 for a delivery
    lines: tuple[tuple[int, int], ...]  # (sku index, quantity)
    cancelled: bool


@dataclass
class CommercePlan:
    """Who exists, what they did and what they bought; events are packed ints (see `_pack`)."""

    start: datetime
    days: int
    customers: int
    devices: dict[int, int]  # customer index -> profile index of their later-identified device
    visitors: int  # profiles never identified, after the customers and devices
    stores: list[tuple[str, str]]  # (code, name)
    prices: list[float]  # per sku index (SKUS)
    orders: list[PlannedOrder]
    events: list[int]
    expected: dict[str, int] = field(default_factory=dict)  # purchases planned per kind

    @property
    def profiles(self) -> int:
        return self.customers + len(self.devices) + self.visitors


def plan_commerce(
    *,
    events: int,
    orders: int,
    customers: int | None = None,
    stores: int = 20,
    days: int = 365,
    seed: int = 5,
    end: datetime = NOW,
) -> CommercePlan:
    """A deterministic history of `events` events and `orders` orders (see the section comment).

    Shares (of orders): 55 % in-store sales (a quarter of them anonymous), 33 % web/app orders
    delivered, 12 % collected in a store; 2 % cancelled. 45 % of identified in-store sales follow
    1-3 online views of the product in the 35 days before (so about one in seven falls outside a
    30-day window); 22 % of online orders follow 1-2 `Product Tried` at a till. A quarter of the
    customers also browse on a device identified later (merged into them), where 40 % of their
    online research happens. The rest of the events is background browsing, mostly of each
    person's handful of favourite products."""
    rnd = random.Random(seed)
    customers = customers or max(20, orders // 4)
    if customers + customers // 4 + customers * 3 // 10 >= 1 << _PROFILE_BITS:
        raise ValueError("too many people for the packed event format")
    stores = min(stores, 1 << _STORE_BITS, len(STORE_CITIES))
    store_list = [(f"ST-{i + 1:02d}", f"{STORE_CITIES[i]} Centro") for i in range(stores)]
    prices = [PRICES[(i * 7 + i // 13) % len(PRICES)] for i in range(len(SKUS))]
    span = days * DAY_SECONDS

    def popular() -> int:  # a few products are far more popular than most
        return int(len(SKUS) * rnd.random() ** 2.2)

    interests = [tuple(popular() for _ in range(6)) for _ in range(customers)]
    home = [rnd.randrange(stores) for _ in range(customers)]
    devices: dict[int, int] = {}
    for c in range(customers):
        if rnd.random() < 0.25:
            devices[c] = customers + len(devices)
    visitors = customers * 3 // 10
    first_visitor = customers + len(devices)

    packed: list[int] = []
    planned: list[PlannedOrder] = []
    expected = {"ropo": 0, "showrooming": 0, "click_and_collect": 0}
    window = 30 * DAY_SECONDS
    for _ in range(orders):
        c = int(customers * rnd.random() ** 1.25)  # some customers buy far more often
        day = rnd.randrange(days)
        at = day * DAY_SECONDS + 7 * 3600 + rnd.randrange(11 * 3600)  # 08:00-19:00 in Italy
        r = rnd.random()
        fulfilment = IN_STORE if r < 0.55 else DELIVERY if r < 0.88 else PICKUP
        channel = "store" if fulfilment == IN_STORE else ("web" if rnd.random() < 0.75 else "app")
        anonymous = fulfilment == IN_STORE and rnd.random() < 0.25
        store = -1
        if fulfilment != DELIVERY:
            store = home[c] if rnd.random() < 0.8 else rnd.randrange(stores)
        size = rnd.choices((1, 2, 3), weights=(60, 28, 12))[0]
        skus: list[int] = []
        for n in range(size):
            pick = rnd.choice(interests[c]) if rnd.random() < 0.8 else popular()
            if n and rnd.random() < 0.03:
                pick = skus[0]  # the same product on two lines: one journey
            skus.append(pick)
        lines = tuple((s, 1 if rnd.random() < 0.85 else 2) for s in skus)
        cancelled = rnd.random() < 0.02
        planned.append(
            PlannedOrder(at, -1 if anonymous else c, fulfilment, channel, store, lines, cancelled)
        )
        if fulfilment == PICKUP and not cancelled:
            expected["click_and_collect"] += 1
        if anonymous:
            continue
        if fulfilment == IN_STORE:
            researched = [s for n, s in enumerate(skus) if rnd.random() < (0.45 if n == 0 else 0.3)]
            for sku in researched:
                inside = False
                for _ in range(rnd.randrange(1, 4)):
                    ago = rnd.randrange(60, 35 * DAY_SECONDS)
                    if at - ago < 0:
                        continue
                    inside |= ago <= window
                    profile = devices[c] if c in devices and rnd.random() < 0.4 else c
                    kind = rnd.choice(ONLINE_RESEARCH)
                    packed.append(_pack(at - ago, profile, sku, 0, kind))
                expected["ropo"] += inside and not cancelled
        else:
            if rnd.random() < 0.6:  # looked at it online too: no journey, but rows to skip
                for _ in range(rnd.randrange(1, 4)):
                    ago = rnd.randrange(60, 20 * DAY_SECONDS)
                    if at - ago >= 0:
                        packed.append(_pack(at - ago, c, skus[0], 0, rnd.choice(ONLINE_RESEARCH)))
            if rnd.random() < 0.22:
                inside = False
                for _ in range(rnd.randrange(1, 3)):
                    ago = rnd.randrange(3600, 35 * DAY_SECONDS)
                    if at - ago < 0:
                        continue
                    inside |= ago <= window
                    where = home[c] if rnd.random() < 0.7 else rnd.randrange(stores)
                    packed.append(_pack(at - ago, c, skus[0], where, STORE_TRIED))
                expected["showrooming"] += inside and not cancelled

    # Background activity up to the number of events asked for.
    for _ in range(max(0, events - len(packed))):
        at = rnd.randrange(span)
        kind = rnd.choice(NOISE_KINDS)
        r = rnd.random()
        if r < 0.22 and visitors and kind != STORE_TRIED:
            profile, sku = first_visitor + rnd.randrange(visitors), popular()
        else:
            c = int(customers * rnd.random() ** 1.25)
            profile = devices[c] if c in devices and r < 0.35 and kind != STORE_TRIED else c
            sku = rnd.choice(interests[c]) if rnd.random() < 0.7 else popular()
        store = home[profile] if kind == STORE_TRIED and profile < customers else 0
        packed.append(_pack(at, profile, sku, store, kind))
    del packed[events:]
    packed.sort()
    planned.sort(key=lambda o: o.at)
    return CommercePlan(
        start=end - timedelta(days=days),
        days=days,
        customers=customers,
        devices=devices,
        visitors=visitors,
        stores=store_list,
        prices=prices,
        orders=planned,
        events=packed,
        expected=expected,
    )


class _Times:
    """SQLite text for `start + seconds` (with a deterministic millisecond), cached per day."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.days: dict[int, str] = {}

    def __call__(self, seconds: int, salt: int = 0) -> str:
        day, rest = divmod(seconds, DAY_SECONDS)
        prefix = self.days.get(day)
        if prefix is None:
            prefix = self.days[day] = (self.start + timedelta(days=day)).strftime("%Y-%m-%d ")
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{prefix}{hours:02d}:{minutes:02d}:{secs:02d}.{(salt * 2654435761) % 1000:03d}000"


def load_commerce(
    sqlite_path: str, plan: CommercePlan, *, seed: int = 5, progress: bool = True
) -> dict[str, Any]:
    """Write `plan` into a migrated, empty SQLite database: stores, products, three sources (web,
    app, till), profiles with their identifiers and merges, events and orders with their lines.
    Secondary indexes of events, orders and lines are dropped during the load and created again
    after (as the migrations define them). Returns ids the benchmarks need."""
    import json
    import sqlite3

    rnd = random.Random(seed + 1)

    def hexid() -> str:
        return f"{rnd.getrandbits(128):032x}"

    at = _Times(plan.start.astimezone(UTC).replace(tzinfo=None))
    now = _sql_time(plan.start + timedelta(days=plan.days))
    db = sqlite3.connect(sqlite_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-1000000")
    db.execute("PRAGMA temp_store=MEMORY")
    bulky = ("events", "orders", "order_lines")
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        f" AND tbl_name IN ({', '.join('?' * len(bulky))})",
        bulky,
    ).fetchall()

    def say(text: str) -> None:
        if progress:
            print(text, flush=True)

    db.execute("BEGIN")
    for name, _ in indexes:
        db.execute(f"DROP INDEX {name}")
    store_ids = [hexid() for _ in plan.stores]
    hours = json.dumps(
        {d: [["09:30", "19:30"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
    )
    db.executemany(
        "INSERT INTO stores (id, code, name, address, timezone, opening_hours, active, "
        "prep_minutes, hold_days, created_at, updated_at) "
        "VALUES (?, ?, ?, NULL, 'Europe/Rome', ?, 1, 60, 7, ?, ?)",
        [
            (sid, code, name, hours, now, now)
            for sid, (code, name) in zip(store_ids, plan.stores, strict=True)
        ],
    )
    db.executemany(
        "INSERT INTO products (id, sku, name, price, currency, category, active, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, 'EUR', ?, 1, ?, ?)",
        [
            (hexid(), sku, f"Prodotto {sku}", plan.prices[i], CATEGORIES[i % 7], now, now)
            for i, sku in enumerate(SKUS)
        ],
    )
    sources = {}
    for channel, name in (("web", "Sito"), ("app", "App"), ("store", "Casse")):
        sources[channel] = hexid()
        db.execute(
            "INSERT INTO sources (id, name, channel, write_key, events_count, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)",
            (sources[channel], name, channel, "wk_" + sources[channel][:24], now, now),
        )

    # People: customers, then their devices (merged into them), then visitors.
    profile_ids = [hexid() for _ in range(plan.profiles)]
    canonical = list(profile_ids)
    for c, d in plan.devices.items():
        canonical[d] = profile_ids[c]
    population = people(plan.customers, seed)
    events_count = [0] * plan.profiles
    for value in plan.events:
        events_count[
            (value >> (_KIND_BITS + _STORE_BITS + _SKU_BITS)) & ((1 << _PROFILE_BITS) - 1)
        ] += 1
    orders_count = [0] * plan.customers
    revenue = [0.0] * plan.customers
    for o in plan.orders:
        if o.customer >= 0 and not o.cancelled:
            orders_count[o.customer] += 1
            revenue[o.customer] += sum(plan.prices[s] * q for s, q in o.lines)
    first_seen = _sql_time(plan.start)
    device_of = {d: c for c, d in plan.devices.items()}

    def profile_rows() -> Iterator[tuple[Any, ...]]:
        for i, pid in enumerate(profile_ids):
            if i < plan.customers:
                p = population[i]
                traits = json.dumps(
                    {"first_name": p.first_name, "last_name": p.last_name, "email": p.email}
                )
                text = f"{p.first_name} {p.last_name} {p.email}".lower()
                merged_into, merged_at = None, None
                counts = (orders_count[i], round(revenue[i], 2))
            else:
                traits, text, counts = "{}", "", (0, 0.0)
                merged_into = canonical[i] if i in device_of else None
                merged_at = now if merged_into else None
            yield (
                pid,
                canonical[i],
                merged_into,
                merged_at,
                traits,
                text,
                events_count[i],
                *counts,
                first_seen,
                now,
                now,
                now,
            )

    db.executemany(
        "INSERT INTO profiles (id, canonical_id, merged_into_id, merged_at, traits, trait_times,"
        " search_text, channels, events_count, orders_count, revenue, first_seen_at,"
        " last_seen_at, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, '{}', ?, '{}', ?, ?, ?, ?, ?, ?, ?)",
        profile_rows(),
    )

    def identifier_rows() -> Iterator[tuple[Any, ...]]:
        for i, pid in enumerate(profile_ids):
            if i < plan.customers:
                p = population[i]
                pairs = [("user_id", p.user_id), ("email", p.email)]
                pairs.append(("anonymous_id", p.anonymous_id))
            else:
                pairs = [("anonymous_id", f"device-{seed}-{i}")]
            for kind, value in pairs:
                yield (hexid(), pid, kind, value, f"{kind}:{value}", first_seen)

    db.executemany(
        "INSERT INTO identifiers (id, profile_id, kind, value, key, first_seen_at, origin) "
        "VALUES (?, ?, ?, ?, ?, ?, 'bench')",
        identifier_rows(),
    )
    db.executemany(
        "INSERT INTO identity_merges (id, survivor_id, merged_id, cause, detail, at) "
        "VALUES (?, ?, ?, 'event', '{}', ?)",
        [(hexid(), profile_ids[c], profile_ids[d], now) for c, d in plan.devices.items()],
    )
    db.execute("COMMIT")
    say(f"  {plan.profiles:,} profiles, {len(plan.stores)} stores, {len(SKUS)} products")

    # Events, in time order.
    properties: dict[tuple[int, int, int], str] = {}
    sent = {channel: 0 for channel in sources}
    chunk = 250_000
    for begin in range(0, len(plan.events), chunk):
        rows = []
        for value in plan.events[begin : begin + chunk]:
            seconds, profile, sku_index, store, kind = _unpack(value)
            channel, kind_type, name, with_sku = EVENT_KINDS[kind]
            sku = SKUS[sku_index] if with_sku else None
            props = properties.get((kind, sku_index, store))
            if props is None:
                if not with_sku:
                    props = '{"method": "password"}'
                elif kind_type in ("page", "screen"):
                    props = json.dumps({"path": f"/p/{sku}", "sku": sku})
                elif kind == STORE_TRIED:
                    props = json.dumps({"sku": sku, "store": plan.stores[store][0]})
                else:
                    props = json.dumps({"sku": sku, "price": plan.prices[sku_index]})
                properties[(kind, sku_index, store)] = props
            sent[channel] += 1
            stamp = at(seconds, value)
            rows.append(
                (
                    sources[channel],
                    f"g{sent[channel]:09d}",
                    profile_ids[profile],
                    kind_type,
                    name,
                    channel,
                    sku,
                    props,
                    stamp,
                    stamp,
                )
            )
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO events (source_id, message_id, profile_id, type, name, channel, sku, "
            "properties, traits, context, event_at, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}', '{}', ?, ?)",
            rows,
        )
        db.execute("COMMIT")
        say(f"  loaded {min(len(plan.events), begin + chunk):,} / {len(plan.events):,} events")
    db.executemany(
        "UPDATE sources SET events_count = ? WHERE id = ?",
        [(count, sources[channel]) for channel, count in sent.items()],
    )

    # Orders and their lines, in time order.
    order_ids: list[str] = []
    counter = {"store": 0, "web": 0, "app": 0}
    for begin in range(0, len(plan.orders), chunk):
        order_rows = []
        line_rows = []
        for o in plan.orders[begin : begin + chunk]:
            oid = hexid()
            order_ids.append(oid)
            counter[o.channel] += 1
            placed = at(o.at, o.at + counter[o.channel])
            age_days = plan.days - o.at / DAY_SECONDS
            promised = ready = collect_by = collected = cancelled_at = None
            if o.cancelled:
                status, cancelled_at = "cancelled", at(o.at + HOUR, o.at)
            elif o.fulfilment == IN_STORE:
                status = "fulfilled"
            elif o.fulfilment == DELIVERY:
                status = "fulfilled" if age_days > 3 else "placed"
            else:
                promised = at(o.at + 3 * HOUR, o.at)
                status = "awaiting"
                if age_days > 0.2:
                    status, ready = "ready", at(o.at + 2 * HOUR, o.at)
                    collect_by = at(o.at + (2 + 7 * 24) * HOUR, o.at)
                if age_days > 3:
                    status, collected = "collected", at(o.at + (26 + o.at % 48) * HOUR, o.at)
            total = round(sum(plan.prices[s] * q for s, q in o.lines), 2)
            order_rows.append(
                (
                    oid,
                    f"{o.channel[0].upper()}{counter[o.channel]:08d}",
                    o.channel,
                    "pos" if o.channel == "store" else "shopify",
                    status,
                    o.fulfilment,
                    store_ids[o.store] if o.store >= 0 else None,
                    profile_ids[o.customer] if o.customer >= 0 else None,
                    total,
                    placed,
                    promised,
                    ready,
                    collect_by,
                    collected,
                    cancelled_at,
                    len(o.lines),
                    placed,
                    placed,
                )
            )
            for s, q in o.lines:
                line_rows.append((oid, SKUS[s], f"Prodotto {SKUS[s]}", q, plan.prices[s]))
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO orders (id, external_id, channel, origin, status, fulfilment, store_id,"
            " profile_id, currency, total, placed_at, promised_ready_at, ready_at, collect_by,"
            " collected_at, cancelled_at, source_updated_at, label, note, lines_count,"
            " unknown_skus, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'EUR', ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?,"
            " 0, ?, ?)",
            order_rows,
        )
        db.executemany(
            "INSERT INTO order_lines (order_id, sku, name, quantity, unit_price, known) "
            "VALUES (?, ?, ?, ?, ?, 1)",
            line_rows,
        )
        db.execute("COMMIT")
        say(f"  loaded {min(len(plan.orders), begin + chunk):,} / {len(plan.orders):,} orders")

    started = datetime.now()
    for name, sql in indexes:
        db.execute(sql)
        say(f"  index {name} ({(datetime.now() - started).total_seconds():.0f} s)")
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return {
        "profile_ids": profile_ids,
        "customer_ids": profile_ids[: plan.customers],
        "store_ids": dict(zip((c for c, _ in plan.stores), store_ids, strict=True)),
        "order_ids": order_ids,
        "sources": sources,
    }
