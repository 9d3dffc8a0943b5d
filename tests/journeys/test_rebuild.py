"""Journeys kept current incrementally equal those `rebuild` computes from history, on generated
histories played through the product's real entry points (POST /v1/batch, POST
/api/v1/orders, merges and unmerges, pickups collected, orders cancelled, the worker draining
the refresh jobs); `phygital journeys rebuild --from/--to` touches only its period; changed
rules apply to existing journeys after a rebuild."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, inspect, select, update

from phygital.core.models import Job, JobStatus
from phygital.db import Base, transaction
from phygital.journeys import helper as helpers
from phygital.journeys import service
from phygital.journeys.detection import Rules
from phygital.journeys.hooks import REFRESH_JOB
from phygital.journeys.models import Journey
from tests.cli.conftest import Cli, cli  # noqa: F401  (the in-process `phygital` fixture)
from tests.conftest import START
from tests.journeys.conftest import World, basic

SKUS = ("BIKE-HELM-M-BLU", "BIKE-LIGHT-USB")
STORES = ("MI-BRERA", "TO-CENTRO")
PEOPLE = 2  # customers p0@example.it…; p0 also has a web account (u-0) from the start
DEVICES = 2  # anonymous browsers: dev-0…, identified (or not) along the way

Row = tuple[str, str, str, datetime, datetime, str | None, str | None]


def stored(world: World) -> set[Row]:
    """(kind, order, sku, online_at, offline_at, store, customer) of every stored journey."""
    with world.session_factory() as session:
        rows = session.execute(
            select(
                Journey.kind,
                Journey.order_id,
                Journey.sku,
                Journey.online_at,
                Journey.offline_at,
                Journey.store_id,
                Journey.customer_id,
            )
        )
        return {(str(k), o, s, on, off, st_, c) for k, o, s, on, off, st_, c in rows}


def rebuilt(world: World) -> set[Row]:
    with transaction(world.session_factory) as session:
        service.rebuild(session, chunk=3)  # small chunks: several periods even here
    return stored(world)


# -- generated histories ------------------------------------------------------------------------


def moment(newest: int, oldest: int) -> st.SearchStrategy[datetime]:
    return st.builds(
        lambda days, hours: START - timedelta(days=days, hours=hours),
        st.integers(newest, oldest),
        st.sampled_from((0, 0, 6, 13)),  # whole days often: windows of exactly 30 days happen
    )


person = st.integers(0, PEOPLE - 1)
device = st.integers(0, DEVICES - 1)
sku = st.sampled_from(SKUS)


def arrival(first: int, last: int) -> st.SearchStrategy[int]:
    """When a step is played (steps are sorted by it), whatever the time it carries: research
    often arrives after the purchase it explains, identity changes and state changes late."""
    return st.integers(first, last)


event_step = st.fixed_dictionaries(
    {
        "op": st.just("event"),
        "who": st.one_of(
            st.just(("user", 0)),
            st.tuples(st.just("email"), person),  # a till or a kiosk that knows the e-mail
            st.tuples(st.just("device"), device),
        ),
        "how": st.sampled_from(("web-view", "web-page", "web-added", "till-tried", "till-view")),
        "sku": sku,
        "at": moment(1, 45),  # research is usually older than the purchases
        "store": st.sampled_from((*STORES, None)),
        "arrive": arrival(0, 1000),
    }
)
order_step = st.fixed_dictionaries(
    {
        "op": st.just("order"),
        "who": st.one_of(st.none(), person, person, person),
        "kind": st.sampled_from(("in_store", "delivery", "pickup")),
        "channel": st.sampled_from(("web", "app")),
        "store": st.sampled_from(STORES),
        "skus": st.lists(sku, min_size=1, max_size=3),
        "at": moment(0, 20),
        "arrive": arrival(0, 600),
    }
)
later = arrival(300, 1000)
identity_step = st.one_of(
    st.fixed_dictionaries(
        {
            "op": st.just("identify"),
            "device": device,
            "who": person,
            "at": moment(0, 45),
            "arrive": later,
        }
    ),
    st.fixed_dictionaries(
        {"op": st.just("login"), "who": person, "at": moment(0, 45), "arrive": later}
    ),
    st.fixed_dictionaries({"op": st.just("merge"), "a": person, "b": person, "arrive": later}),
    st.fixed_dictionaries({"op": st.just("unmerge"), "pick": st.integers(0, 5), "arrive": later}),
)
later_step = st.fixed_dictionaries(
    {
        "op": st.sampled_from(("cancel", "ready", "collect")),
        "pick": st.integers(0, 9),
        "arrive": arrival(600, 1000),
    }
)
histories = st.builds(
    lambda *parts: sorted((s for part in parts for s in part), key=lambda s: s["arrive"]),
    st.lists(event_step, min_size=2, max_size=12),
    st.lists(order_step, min_size=1, max_size=5),
    st.lists(identity_step, max_size=4),
    st.lists(later_step, max_size=4),
)


@dataclass
class Player:
    """Plays generated steps through the public entry points."""

    world: World
    orders: list[str]

    def post_batch(self, source: str, message: dict[str, Any]) -> None:
        response = self.world.client.post(
            "/v1/batch", json={"batch": [message]}, headers=basic(self.world.keys[source])
        )
        assert response.status_code == 200, response.text

    def customer(self, who: int) -> str | None:
        found = self.world.client.get(
            "/api/v1/customers",
            params={"email": f"p{who}@example.it"},
            headers=self.world.principals.owner.headers,
        ).json()["items"]
        return str(found[0]["id"]) if found else None

    def play(self, step: dict[str, Any]) -> None:
        owner = self.world.principals.owner.headers
        client = self.world.client
        op = step["op"]
        if op == "event":
            kind, who = step["who"]
            ident: dict[str, Any] = {
                "user": {"userId": f"u-{who}"},
                "device": {"anonymousId": f"dev-{who}"},
                "email": {
                    "anonymousId": f"counter-{who}",
                    "context": {"traits": {"email": f"p{who}@example.it"}},
                },
            }[kind]
            source, name = {
                "web-view": ("web", "Product Viewed"),
                "web-page": ("web", None),
                "web-added": ("web", "Product Added"),
                "till-tried": ("till", "Product Tried"),
                "till-view": ("till", "Product Viewed"),
            }[step["how"]]
            message: dict[str, Any] = {"timestamp": step["at"].isoformat(), **ident}
            properties: dict[str, Any] = {"sku": step["sku"]}
            if source == "till" and step["store"]:
                properties["store"] = step["store"]
            if name is None:
                message.update(type="page", name="Prodotto")
            else:
                message.update(type="track", event=name)
            message["properties"] = properties
            self.post_batch(source, message)
        elif op in ("identify", "login"):
            ident = (
                {"anonymousId": f"dev-{step['device']}"}
                if op == "identify"
                else {"userId": f"u-{step['who']}"}
            )
            self.post_batch(
                "web",
                {
                    "type": "identify",
                    **ident,
                    "traits": {"email": f"p{step['who']}@example.it"},
                    "timestamp": step["at"].isoformat(),
                },
            )
        elif op == "order":
            body: dict[str, Any] = {
                "external_id": f"G-{len(self.orders)}",
                "channel": "store" if step["kind"] == "in_store" else step["channel"],
                "placed_at": step["at"].isoformat(),
                "fulfilment": step["kind"],
                "lines": [{"sku": s, "quantity": 1, "unit_price": "10.00"} for s in step["skus"]],
            }
            if step["kind"] != "delivery":
                body["store"] = step["store"]
            if step["who"] is not None:
                body["customer"] = {
                    "identifiers": [{"kind": "email", "value": f"p{step['who']}@example.it"}]
                }
            response = client.post("/api/v1/orders", json=body, headers=owner)
            assert response.status_code == 201, response.text
            self.orders.append(str(response.json()["id"]))
        elif op == "merge":
            a, b = self.customer(step["a"]), self.customer(step["b"])
            if a and b and a != b:
                response = client.post(
                    f"/api/v1/customers/{a}/merge", json={"other_id": b}, headers=owner
                )
                assert response.status_code in (200, 409), response.text  # 409: two user ids
        elif op == "unmerge":
            merges = [
                m
                for who in range(PEOPLE)
                if (root := self.customer(who))
                for m in client.get(f"/api/v1/customers/{root}/merges", headers=owner).json()
                if m["undone_at"] is None
            ]
            if merges:
                m = merges[step["pick"] % len(merges)]
                response = client.post(
                    f"/api/v1/customers/{m['survivor_id']}/unmerge",
                    json={"other_id": m["merged_id"]},
                    headers=owner,
                )
                assert response.status_code < 500, response.text
        elif op in ("cancel", "ready", "collect") and self.orders:
            order = self.orders[step["pick"] % len(self.orders)]
            actions = {"cancel": ["cancel"], "ready": ["ready"], "collect": ["ready", "collected"]}
            for action in actions[op]:
                response = client.post(f"/api/v1/orders/{order}/{action}", headers=owner)
                assert response.status_code in (200, 409), response.text  # 409: wrong state


def forget_history(engine: Engine, keep: set[str]) -> None:
    """Empty every table the fixtures did not fill (hypothesis runs many examples per test)."""
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in keep:
                conn.execute(delete(table))


@pytest.fixture
def fixture_tables(world: World, engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {
            t.name
            for t in Base.metadata.sorted_tables
            if conn.execute(select(t).limit(1)).first() is not None
        }


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories)
def test_incremental_journeys_equal_a_rebuild_from_history(
    world: World, engine: Engine, fixture_tables: set[str], history: list[dict[str, Any]]
) -> None:
    forget_history(engine, fixture_tables)
    player = Player(world, [])
    player.play({"op": "login", "who": 0, "at": START - timedelta(days=400)})
    for step in history:
        player.play(step)
        world.run_jobs()  # the worker runs the refresh jobs within seconds
    with world.session_factory() as session:
        refreshes = session.execute(
            select(Job.status, Job.last_error).where(Job.name == REFRESH_JOB)
        ).all()
    assert all(status == JobStatus.DONE for status, _ in refreshes), refreshes
    incremental = stored(world)
    kinds = sorted({row[0] for row in incremental})
    event(f"journeys found: {', '.join(kinds) or 'none'}")
    assert rebuilt(world) == incremental
    with transaction(world.session_factory) as session:  # a first rebuild: the bulk path
        session.execute(delete(Journey))
    assert rebuilt(world) == incremental


# -- rebuild by period, and after a change of rules ----------------------------------------------


def spoil(world: World) -> None:
    """Make every stored journey visibly stale (as if computed long ago with other data)."""
    with transaction(world.session_factory) as session:
        session.execute(update(Journey).values(sku="STALE"))


def history(world: World, at: Callable[[float], datetime]) -> dict[str, str]:
    """Giulia looks online at a helmet and a light, then buys both in store on two days."""
    world.identify("web", "tablet", "giulia@example.it", at(60))
    tablet = {"anonymousId": "tablet"}
    world.event("web", tablet, at(20), sku="BIKE-HELM-M-BLU")
    world.event("web", tablet, at(8), sku="BIKE-LIGHT-USB", event="Product Added")
    early = world.buy("giulia@example.it", at(10), skus=("BIKE-HELM-M-BLU",))
    late = world.buy("giulia@example.it", at(2), skus=("BIKE-LIGHT-USB",))
    return {"early": early, "late": late}


def skus_by_order(world: World) -> dict[str, str]:
    with world.session_factory() as session:
        return {order: sku for order, sku in session.execute(select(Journey.order_id, Journey.sku))}


def test_rebuild_from_to_recomputes_only_the_orders_placed_in_the_period(
    world: World,
    at: Callable[[float], datetime],
    cli: Cli,  # noqa: F811
) -> None:
    orders = history(world, at)
    assert skus_by_order(world) == {
        orders["early"]: "BIKE-HELM-M-BLU",
        orders["late"]: "BIKE-LIGHT-USB",
    }
    spoil(world)
    day = (at(5) - timedelta(hours=12)).date().isoformat()  # the period holds only "late"
    result = cli("journeys", "rebuild", "--from", day)
    assert result.code == 0, result.stderr
    assert "1 orders, 1 journeys" in result.stderr
    assert skus_by_order(world) == {orders["early"]: "STALE", orders["late"]: "BIKE-LIGHT-USB"}
    result = cli("journeys", "rebuild", "--to", day)
    assert result.code == 0, result.stderr
    assert skus_by_order(world) == {
        orders["early"]: "BIKE-HELM-M-BLU",
        orders["late"]: "BIKE-LIGHT-USB",
    }
    assert cli("journeys", "rebuild", "--from", "yesterday").code != 0


def test_changed_rules_apply_to_existing_journeys_after_a_rebuild(
    world: World, at: Callable[[float], datetime]
) -> None:
    orders = history(world, at)
    owner = world.principals.owner.headers
    # Only "Product Added" counts online now, within 7 days: the helmet's view (10 days before
    # its purchase) no longer does; the light's add to cart (6 days before) does.
    response = world.client.put(
        "/api/v1/journeys/rules",
        json={"window_days": 7, "online_events": ["Product Added"], "offline_events": []},
        headers=owner,
    )
    assert response.status_code == 200, response.text
    before = skus_by_order(world)
    assert len(before) == 2  # existing journeys keep the old rules until a rebuild
    with transaction(world.session_factory) as session:
        report = service.rebuild(session)
    assert (report.orders, report.journeys) == (2, 1)
    assert skus_by_order(world) == {orders["late"]: "BIKE-LIGHT-USB"}
    # A new purchase follows the new rules at once.
    world.event("web", {"anonymousId": "tablet"}, at(1), sku="BIKE-GLOVE-L")
    world.buy("giulia@example.it", at(0), skus=("BIKE-GLOVE-L",))
    assert len(skus_by_order(world)) == 1


def test_periods_cover_the_orders_once_even_when_many_share_an_instant(
    world: World, at: Callable[[float], datetime]
) -> None:
    for n in range(7):
        world.buy(None, at(3), channel="web", fulfilment="pickup")  # seven at one instant
        world.buy(None, at(2 + n / 10), channel="web", fulfilment="pickup")
    world.buy(None, at(1), channel="web", fulfilment="pickup")
    with world.session_factory() as session:
        parts = service.periods(session, start=None, end=None, chunk=3)
    assert [p.orders for p in parts] == [9, 3, 3]  # the seven at one instant stay together
    assert parts[0].start is None and parts[-1].end is None
    assert all(a.end == b.start for a, b in pairwise(parts))
    assert all(p.start is None or p.end is None or p.start < p.end for p in parts)
    with transaction(world.session_factory) as session:
        assert service.rebuild(session, chunk=3).journeys == 15


def test_a_first_rebuild_fills_the_table_with_its_indexes_or_changes_nothing(
    world: World, at: Callable[[float], datetime], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(world, at)
    expected = stored(world)
    with transaction(world.session_factory) as session:
        session.execute(delete(Journey))
    indexes = index_names(engine)
    assert {"uq_journeys_order_id_kind_sku", "ix_journeys_customer_id"} <= indexes

    def broken(done: int, total: int) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError), transaction(world.session_factory) as session:
        service.rebuild(session, on_progress=broken)
    assert stored(world) == set()
    assert index_names(engine) == indexes  # dropped and rolled back with the rest
    with transaction(world.session_factory) as session:
        report = service.rebuild(session)
    assert (report.orders, report.journeys) == (2, 2)
    assert stored(world) == expected
    assert index_names(engine) == indexes
    with transaction(world.session_factory) as session:  # journeys stored: not a first rebuild
        rules = service.get_rules(session)
        assert service.fill_empty(session, start=None, end=None, rules=rules) is None


def index_names(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {str(index["name"]) for index in inspect(conn).get_indexes("journeys")}


def test_a_helper_process_finds_the_same_journeys_first_time_and_after(
    world: World, at: Callable[[float], datetime]
) -> None:
    orders = history(world, at)
    expected = stored(world)
    with transaction(world.session_factory) as session:
        session.execute(delete(Journey))
    with world.session_factory() as session:
        rules = service.get_rules(session)
        parts = service.periods(session, start=None, end=None, chunk=1)  # one order each
        finder = service.start_helper(session, rules)  # None on PostgreSQL: one process
    try:
        with transaction(world.session_factory) as session:
            report = service.fill_empty(
                session, start=None, end=None, rules=rules, chunk=1, finder=finder
            )
        assert report is not None and (report.orders, report.journeys) == (2, 2)
        assert stored(world) == expected
        spoil(world)
        with transaction(world.session_factory) as session:
            found = service.refresh_periods(session, parts, rules=rules, finder=finder)
        assert found == 2
        assert stored(world) == expected
        assert set(skus_by_order(world)) == set(orders.values())
    finally:
        if finder is not None:
            finder.stop()


def test_a_failing_helper_fails_the_rebuild(tmp_path: Path) -> None:
    finder = helpers.start(str(tmp_path / "missing.db"), Rules())
    finder.ask((START - timedelta(days=1), START))
    with pytest.raises(RuntimeError, match="helper process failed: FileNotFoundError"):
        finder.answer()
    finder.stop()
    assert not finder.process.is_alive()
    assert not (tmp_path / "missing.db").exists()
