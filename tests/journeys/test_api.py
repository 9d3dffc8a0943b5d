"""GET /api/v1/journeys: the filters, cursor paging, the summary (counts, orders and revenue per
kind, ROPO share of in-store sales, median days from research to purchase) and who sees what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from tests.journeys.conftest import World
from tests.journeys.test_definitions import CC, EMAIL, ME, ROPO, SHOW, known

URL = "/api/v1/journeys"


@pytest.fixture
def history(world: World, at: Callable[[float], datetime]) -> dict[str, str]:
    """Giulia's four journeys, one per store or kind, and an anonymous sale without any.

    O-1 ROPO at MI-BRERA (viewed 3 days before), O-2 ROPO at store A (5 days), O-3 showrooming
    (tried at TO-CENTRO 2 days before ordering online), O-4 click & collect at MI-BRERA, O-5 an
    anonymous in-store sale at MI-BRERA. Every line is 10.00."""
    known(world, at(40))
    world.event("web", ME, at(3))
    world.event("web", ME, at(10), sku="BIKE-LIGHT-USB")
    world.event("till", ME, at(8), sku="BIKE-GLOVE-L", event="Product Tried", store="TO-CENTRO")
    ids = {
        "O-1": world.buy(EMAIL, at(0)),
        "O-2": world.buy(EMAIL, at(5), store="A", skus=("BIKE-LIGHT-USB",)),
        "O-3": world.buy(
            EMAIL, at(6), channel="web", fulfilment="delivery", store=None, skus=("BIKE-GLOVE-L",)
        ),
        "O-4": world.buy(EMAIL, at(1), channel="web", fulfilment="pickup"),
        "O-5": world.buy(None, at(0), skus=("BOTTLE-TERM-750",)),
    }
    return {order_id: name for name, order_id in ids.items()}


def get(world: World, who: str = "owner", **params: Any) -> Any:
    headers = getattr(world.principals, who).headers
    response = world.client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def names(history: dict[str, str], body: Any) -> list[tuple[str, str]]:
    return [(history[item["order_id"]], item["kind"]) for item in body["items"]]


def counts(body: Any) -> dict[str, tuple[int, int, str]]:
    return {
        kind: (s["count"], s["orders"], f"{float(s['revenue']):.2f}")
        for kind, s in body["summary"]["by_kind"].items()
    }


def test_items_newest_purchase_first_with_the_summary_of_all(
    world: World, history: dict[str, str], at: Callable[[float], datetime]
) -> None:
    body = get(world)
    assert names(history, body) == [("O-1", ROPO), ("O-4", CC), ("O-2", ROPO), ("O-3", SHOW)]
    first = body["items"][0]
    assert first["sku"] == "BIKE-HELM-M-BLU" and first["store"] == "MI-BRERA"
    assert datetime.fromisoformat(first["online_at"]) == at(3)
    assert datetime.fromisoformat(first["offline_at"]) == at(0)
    assert body["items"][3]["store"] == "TO-CENTRO"  # where the glove was tried
    assert body["next"] is None
    assert counts(body) == {
        ROPO: (2, 2, "20.00"),
        SHOW: (1, 1, "10.00"),
        CC: (1, 1, "10.00"),
    }
    summary = body["summary"]
    assert float(summary["store_revenue"]) == 30.0  # O-1, O-2 and the anonymous O-5
    assert summary["ropo_share"] == pytest.approx(0.6667)
    assert summary["median_days"] == {ROPO: 4.0, SHOW: 2.0}  # median of 3 and 5 days; 2 days


def test_kind_filter_narrows_items_and_summary(world: World, history: dict[str, str]) -> None:
    body = get(world, kind="ropo")
    assert names(history, body) == [("O-1", ROPO), ("O-2", ROPO)]
    assert counts(body)[SHOW] == (0, 0, "0.00") and counts(body)[CC] == (0, 0, "0.00")
    assert body["summary"]["median_days"] == {ROPO: 4.0, SHOW: None}
    assert body["summary"]["ropo_share"] == pytest.approx(0.6667)
    body = get(world, kind="showrooming")
    assert names(history, body) == [("O-3", SHOW)]
    assert body["summary"]["ropo_share"] is None  # the share is about ROPO only
    assert body["summary"]["median_days"] == {ROPO: None, SHOW: 2.0}


def test_store_filter_is_the_store_of_the_offline_side(
    world: World, history: dict[str, str]
) -> None:
    body = get(world, store="MI-BRERA")
    assert names(history, body) == [("O-1", ROPO), ("O-4", CC)]
    assert float(body["summary"]["store_revenue"]) == 20.0  # O-1 and O-5
    assert body["summary"]["ropo_share"] == 0.5
    assert body["summary"]["median_days"] == {ROPO: 3.0, SHOW: None}
    body = get(world, store="TO-CENTRO")
    assert names(history, body) == [("O-3", SHOW)]  # tried there, bought online
    assert body["summary"]["ropo_share"] is None  # no in-store sales there


def test_sku_filter(world: World, history: dict[str, str]) -> None:
    assert names(history, get(world, sku="BIKE-LIGHT-USB")) == [("O-2", ROPO)]
    assert get(world, sku="NOTHING")["items"] == []


def test_from_and_to_bound_the_purchase_time_in_local_days(
    world: World, history: dict[str, str]
) -> None:
    # O-3 was placed on 14 November, O-2 on the 15th (10:00 in Rome), the rest later.
    body = get(world, **{"from": "2026-11-14", "to": "2026-11-16"})
    assert names(history, body) == [("O-2", ROPO), ("O-3", SHOW)]
    assert float(body["summary"]["store_revenue"]) == 10.0
    assert body["summary"]["ropo_share"] == 1.0
    body = get(world, **{"from": "2026-11-15T10:00:00+01:00"})  # O-2's very moment: included
    assert [name for name, _ in names(history, body)] == ["O-1", "O-4", "O-2"]
    body = get(world, to="2026-11-15T10:00:00+01:00")  # and excluded as the end
    assert [name for name, _ in names(history, body)] == ["O-3"]


def test_cursor_pages_through_every_journey_once(world: World, history: dict[str, str]) -> None:
    seen: list[tuple[str, str]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = get(world, **params)
        assert counts(body)[ROPO] == (2, 2, "20.00")  # the summary is of all, on every page
        seen += names(history, body)
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert pages == 2
    assert seen == [("O-1", ROPO), ("O-4", CC), ("O-2", ROPO), ("O-3", SHOW)]
    bad = world.client.get(
        URL, params={"cursor": "not-a-cursor"}, headers=world.principals.owner.headers
    )
    assert bad.status_code in (400, 422)


def test_a_seller_sees_the_journeys_of_their_store_only(
    world: World, history: dict[str, str]
) -> None:
    body = get(world, "seller_a")
    assert names(history, body) == [("O-2", ROPO)]
    assert float(body["summary"]["store_revenue"]) == 10.0
    assert names(history, get(world, "seller_a", store="A")) == [("O-2", ROPO)]
    other = world.client.get(
        URL, params={"store": "MI-BRERA"}, headers=world.principals.seller_a.headers
    )
    assert other.status_code == 404
    assert get(world, "seller_b")["items"] == []
    assert get(world, "manager", store="MI-BRERA")["summary"]["ropo_share"] == 0.5
    unknown = world.client.get(
        URL, params={"store": "NOWHERE"}, headers=world.principals.owner.headers
    )
    assert unknown.status_code == 404
    revoked = world.client.get(URL, headers=world.principals.outsider.headers)
    assert revoked.status_code == 401


@pytest.mark.parametrize("value", ["yesterday", "2026-02-30", "2026-11-01T09:00:00"])
def test_a_bad_from_is_422_naming_the_field(world: World, value: str) -> None:
    response = world.client.get(URL, params={"from": value}, headers=world.principals.owner.headers)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"][-1] == "from"


def test_a_bad_kind_is_422(world: World) -> None:
    response = world.client.get(
        URL, params={"kind": "teleport"}, headers=world.principals.owner.headers
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "kind"
