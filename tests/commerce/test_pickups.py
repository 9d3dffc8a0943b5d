"""Click & collect: the pickup state machine, overdue from the clock, promises kept and broken,
the store's pickup list, and store-scoped sellers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from phygital.commerce import orders as order_service
from phygital.commerce import pickups as pickups_service
from phygital.commerce import promises
from phygital.commerce.models import Order, Promise, PromiseStatus
from phygital.core.clock import FrozenClock
from phygital.core.events import _SUBSCRIBERS, subscribe
from phygital.core.jobs import Worker
from tests.commerce.conftest import order_body
from tests.conftest import Principals


def place(client: TestClient, who: Any, external_id: str = "1001", **kwargs: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/orders", json=order_body(external_id, **kwargs), headers=who.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def act(client: TestClient, who: Any, order_id: str, action: str) -> Any:
    return client.post(f"/api/v1/orders/{order_id}/{action}", headers=who.headers)


def pickups(client: TestClient, who: Any, status: str, store: str | None = "MI-BRERA") -> list[str]:
    params = {"status": status} | ({"store": store} if store else {})
    response = client.get("/api/v1/pickups", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return [o["id"] for o in response.json()["items"]]


def promise_of(db: Session, order_id: str) -> Promise:
    """The order's promise, detached: the read ends its transaction (on SQLite a transaction
    holds the write lock, and the app under test needs it)."""
    db.expire_all()
    promise = db.scalars(select(Promise).where(Promise.subject == f"order:{order_id}")).one()
    db.expunge(promise)
    db.rollback()
    return promise


def test_awaiting_then_ready_then_collected(
    client: TestClient, principals: Principals, shop: dict[str, Any], db: Session
) -> None:
    owner = principals.owner
    order = place(client, owner)
    assert pickups(client, owner, "awaiting") == [order["id"]]
    ready = act(client, owner, order["id"], "ready").json()
    assert ready["status"] == "ready"
    assert ready["ready_at"] is not None
    assert promise_of(db, order["id"]).status == PromiseStatus.KEPT
    assert pickups(client, owner, "awaiting") == []
    assert pickups(client, owner, "ready") == [order["id"]]
    assert act(client, owner, order["id"], "ready").status_code == 200  # a double tap
    collected = act(client, owner, order["id"], "collected").json()
    assert collected["status"] == "collected"
    assert pickups(client, owner, "collected") == [order["id"]]
    assert pickups(client, owner, "ready") == []
    assert act(client, owner, order["id"], "ready").status_code == 409
    assert act(client, owner, order["id"], "cancel").status_code == 409


@pytest.fixture
def changed_orders() -> Iterator[list[str]]:
    """The order ids of every `orders.changed` published while the test runs."""
    seen: list[str] = []

    def listen(session: Session, *, clock: Any, order_ids: list[str]) -> None:
        seen.extend(order_ids)

    subscribe("orders.changed")(listen)
    yield seen
    _SUBSCRIBERS["orders.changed"].remove(listen)


def test_every_change_of_state_is_announced(
    client: TestClient,
    principals: Principals,
    shop: dict[str, Any],
    db: Session,
    clock: FrozenClock,
    changed_orders: list[str],
) -> None:
    owner = principals.owner
    pickup = place(client, owner)["id"]
    for action in ("ready", "collected"):
        assert act(client, owner, pickup, action).status_code == 200
    other = place(client, owner, "1002")["id"]
    assert act(client, owner, other, "cancel").status_code == 200
    delivery = place(client, owner, "1003", fulfilment="delivery", store=None)["id"]
    order_service.mark_fulfilled(db, clock=clock, order=db.get_one(Order, delivery))
    db.commit()
    assert changed_orders == [pickup, pickup, other, delivery]


def test_awaiting_pickup_becomes_overdue_when_its_promise_passes(
    client: TestClient,
    principals: Principals,
    shop: dict[str, Any],
    clock: FrozenClock,
    db: Session,
) -> None:
    owner = principals.owner
    order = place(client, owner)  # promised Friday 11:00 in Milan
    clock.advance(timedelta(minutes=59))
    assert pickups(client, owner, "overdue") == []
    clock.advance(timedelta(minutes=2))
    assert pickups(client, owner, "overdue") == [order["id"]]
    assert pickups(client, owner, "awaiting") == []
    read = client.get(f"/api/v1/orders/{order['id']}", headers=owner.headers).json()
    assert read["status"] == "overdue"
    # Ready late: the promise is broken, and the pickup is no longer overdue.
    act(client, owner, order["id"], "ready")
    promise = promise_of(db, order["id"])
    assert promise.status == PromiseStatus.BROKEN
    assert pickups(client, owner, "ready") == [order["id"]]


def test_ready_pickup_not_collected_within_the_hold_days_is_overdue(
    client: TestClient, principals: Principals, shop: dict[str, Any], clock: FrozenClock
) -> None:
    owner = principals.owner
    order = place(client, owner)
    act(client, owner, order["id"], "ready")
    clock.advance(timedelta(days=3) - timedelta(seconds=1))  # MI-BRERA holds pickups 3 days
    assert pickups(client, owner, "ready") == [order["id"]]
    clock.advance(timedelta(seconds=2))
    assert pickups(client, owner, "ready") == []
    assert pickups(client, owner, "overdue") == [order["id"]]
    assert act(client, owner, order["id"], "collected").json()["status"] == "collected"


def test_broken_promise_is_recorded_by_the_job_at_its_due_time(
    client: TestClient,
    principals: Principals,
    shop: dict[str, Any],
    clock: FrozenClock,
    db: Session,
    session_factory: sessionmaker[Session],
) -> None:
    order = place(client, principals.owner)
    worker = Worker(session_factory, clock=clock)
    worker.run_until_idle()
    assert promise_of(db, order["id"]).status == PromiseStatus.OPEN  # not due yet
    clock.advance(timedelta(hours=2))
    worker.run_until_idle()
    promise = promise_of(db, order["id"])
    assert promise.status == PromiseStatus.BROKEN
    assert promise.resolved_at == promise.due_at


def test_promise_kept_rate_per_store_and_channel(
    client: TestClient,
    principals: Principals,
    shop: dict[str, Any],
    clock: FrozenClock,
    db: Session,
) -> None:
    owner = principals.owner
    kept = place(client, owner, "1")
    place(client, owner, "2")  # will be broken by the clock
    place(client, owner, "3", channel="app")
    cancelled = place(client, owner, "4")
    act(client, owner, kept["id"], "ready")
    act(client, owner, cancelled["id"], "cancel")
    clock.advance(timedelta(hours=3))
    rates = client.get("/api/v1/promises/rates", headers=owner.headers).json()
    by_channel = {r["channel"]: r for r in rates}
    assert by_channel["web"] | {"channel": None} == {
        "store": "MI-BRERA",
        "channel": None,
        "kind": "pickup_ready",
        "due": 2,
        "kept": 1,
        "broken": 1,
        "rate": 0.5,
    }
    assert by_channel["app"]["rate"] == 0.0
    assert promises.kept_rate(db, now=clock.now()) == pytest.approx(1 / 3, abs=1e-4)
    db.rollback()
    other_store = client.get(
        "/api/v1/promises/rates", params={"store": "TO-CENTRO"}, headers=owner.headers
    ).json()
    assert other_store == []
    bad = client.get("/api/v1/promises/rates", params={"from": "1700000000"}, headers=owner.headers)
    assert bad.status_code == 422


def test_sellers_see_only_their_own_store_pickups(
    client: TestClient, principals: Principals, shop: dict[str, Any]
) -> None:
    in_a = place(client, principals.owner, "A1", store="A")
    place(client, principals.owner, "B1", store="B")
    assert pickups(client, principals.seller_a, "awaiting", store=None) == [in_a["id"]]
    refused = client.get(
        "/api/v1/pickups", params={"store": "B"}, headers=principals.seller_a.headers
    )
    assert refused.status_code == 404
    everything = pickups(client, principals.owner, "awaiting", store=None)
    assert len(everything) == 2


def test_pickup_list_pages_by_urgency(
    client: TestClient, principals: Principals, shop: dict[str, Any]
) -> None:
    owner = principals.owner
    ids = [
        place(client, owner, str(n), placed_at=f"2026-11-20T1{n}:00:00+01:00")["id"]
        for n in range(4)
    ]
    first = client.get(
        "/api/v1/pickups", params={"status": "awaiting", "limit": 3}, headers=owner.headers
    ).json()
    assert first["next"]
    second = client.get(
        "/api/v1/pickups",
        params={"status": "awaiting", "limit": 3, "cursor": first["next"]},
        headers=owner.headers,
    ).json()
    listed = [o["id"] for o in first["items"] + second["items"]]
    # Placed 10:00, 11:00, 12:00 and 13:00: promised 11:00, 12:00, 16:00 (lunch) and 16:30.
    assert listed == ids
    promised = [o["promised_ready_at"] for o in first["items"] + second["items"]]
    assert promised == sorted(promised)


def test_pickups_without_a_promise_wait_after_the_promised_ones_and_are_never_overdue(
    client: TestClient,
    principals: Principals,
    shop: dict[str, Any],
    clock: FrozenClock,
    db: Session,
) -> None:
    owner = principals.owner
    ids = [
        place(client, owner, str(n), placed_at=f"2026-11-20T1{n}:00:00+01:00")["id"]
        for n in range(4)
    ]
    # The first two as if the store had had no opening hours then: nothing was promised.
    db.execute(update(Order).where(Order.id.in_(ids[:2])).values(promised_ready_at=None))
    db.commit()

    def one_by_one(status: str) -> list[str]:
        listed: list[str] = []
        cursor = None
        for _ in range(10):
            params = {"status": status, "limit": 1} | ({"cursor": cursor} if cursor else {})
            page = client.get("/api/v1/pickups", params=params, headers=owner.headers).json()
            listed += [o["id"] for o in page["items"]]
            cursor = page["next"]
            if cursor is None:
                return listed
        raise AssertionError("more pages than pickups")

    assert one_by_one("awaiting") == ids[2:] + sorted(ids[:2])
    clock.advance(timedelta(days=30))
    assert one_by_one("overdue") == ids[2:]
    assert one_by_one("awaiting") == sorted(ids[:2])


def _plan(session: Session, statement: Any, values: dict[str, Any]) -> str:
    """The database's plan of a statement (parameters as text, as any value would do)."""
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    params = compiled.construct_params(values)
    if connection.dialect.name == "sqlite":
        positional = tuple(params[name] for name in compiled.positiontup or ())
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", positional).all()
        return "\n".join(str(row[-1]) for row in rows)
    # On an empty table a sequential scan is cheapest: ask which index it would take.
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    return "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {compiled}", params))


@pytest.mark.parametrize("by_store", [True, False], ids=["one store", "every store"])
def test_open_pickups_are_read_from_the_pickup_only_indexes(db: Session, by_store: bool) -> None:
    """The two indexes hold pickups alone (till receipts never enter them); a query reaches a
    partial index only by stating its condition, so every range of the desk must. The desk of
    every store at once (an owner's view) has no store to seek: it reads them whole, never every
    order (SQLite, without statistics, walked the primary key for the pickups without a
    promise, reading every till receipt)."""
    values = {
        "now": "2026-11-20 10:00:00+00:00",
        "limit": 10,
        "after_at": "2026-11-20 09:00:00+00:00",
        "after_id": "x",
    } | ({"store_id": "s"} if by_store else {})
    index_of = {
        "promised_ready_at": "ix_orders_store_id_status_promised",
        "collect_by": "ix_orders_store_id_status_collect_by",
    }
    for state, parts in pickups_service.RANGES.items():
        for part in parts:
            for after in (None, "time", "id"):
                statement = pickups_service._pages_statement((part,), by_store, after, rows=True)
                plan = _plan(db, statement, values)
                # A store's range seeks its own index; every store's may read either whole.
                wanted = index_of[part.key] if by_store else "ix_orders_store_id_status_"
                assert wanted in plan, (state, part, after, plan)
        db.rollback()
    if by_store:
        plan = _plan(db, pickups_service._counts_statement(True), values)
        assert plan.count("ix_orders_store_id_status_") == 5, plan  # a range each
        db.rollback()
