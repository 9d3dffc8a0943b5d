"""Customer 360 read: profile + first timeline page, at 200,000 profiles and 5,000,000 events.

Loads the history straight into SQLite, starts `phygital serve`, then reads random customers
through the REST API (GET /api/v1/customers/{id} and its /timeline) and prints p50/p95/p99.

    python bench/customer360.py [--profiles 200000] [--events 5000000] [--reads 1000]
"""

from __future__ import annotations

import argparse
import random
import time

import httpx
from common import fresh_sqlite, percentile, running_server  # type: ignore[import-not-found]
from gen import load_history  # type: ignore[import-not-found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--reads", type=int, default=1000)
    args = parser.parse_args()

    from phygital import migrate
    from phygital.auth.models import Role
    from phygital.auth.service import create_token
    from phygital.db import make_engine, make_session_factory, transaction

    url = fresh_sqlite()
    engine = make_engine(url)
    migrate.upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        _, token = create_token(session, name="bench", role=Role.MANAGER)
    engine.dispose()
    started = time.perf_counter()
    ids = load_history(url.removeprefix("sqlite:///"), profiles=args.profiles, events=args.events)
    print(f"history loaded in {time.perf_counter() - started:.0f} s")

    rnd = random.Random(3)
    timings: list[float] = []
    with (
        running_server(url) as base,
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client,
    ):
        for _ in range(20):  # warm-up
            cid = rnd.choice(ids)
            client.get(f"/api/v1/customers/{cid}")
        for _ in range(args.reads):
            cid = rnd.choice(ids)
            t0 = time.perf_counter()
            profile = client.get(f"/api/v1/customers/{cid}")
            page = client.get(f"/api/v1/customers/{cid}/timeline", params={"limit": 50})
            timings.append((time.perf_counter() - t0) * 1000)
            assert profile.status_code == 200 and page.status_code == 200, page.text
    print(f"profiles: {args.profiles:,}  events: {args.events:,}  reads: {args.reads}")
    print(
        f"customer 360 (profile + first timeline page, 2 HTTP requests): "
        f"p50 {percentile(timings, 50):.1f} ms  p95 {percentile(timings, 95):.1f} ms  "
        f"p99 {percentile(timings, 99):.1f} ms"
    )


if __name__ == "__main__":
    main()
