"""The contract's journey definitions at their edges: window bounds, same sku only, which side
is online, cancelled orders, the customer as a whole cluster, identity changes and erasure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from phygital.journeys.models import JourneyKind
from phygital.journeys.service import rebuild
from tests.journeys.conftest import World, basic

EMAIL = "giulia@example.it"
ME = {"userId": "u-giulia"}
ROPO = JourneyKind.ROPO.value
SHOW = JourneyKind.SHOWROOMING.value
CC = JourneyKind.CLICK_AND_COLLECT.value


def known(world: World, at: datetime) -> None:
    """Giulia's web account carries her e-mail, so web events and orders meet."""
    world.client.post(
        "/v1/batch",
        json={
            "batch": [
                {
                    "type": "identify",
                    "userId": "u-giulia",
                    "traits": {"email": EMAIL},
                    "timestamp": at.isoformat(),
                }
            ]
        },
        headers=basic(world.keys["web"]),
    )


def test_ropo_online_view_then_in_store_purchase(
    world: World, at: Callable[[float], datetime]
) -> None:
    known(world, at(40))
    world.event("web", ME, at(3))
    world.buy(EMAIL, at(0))
    assert world.journeys() == {(ROPO, "O-1", "BIKE-HELM-M-BLU")}
    [journey] = world.rows()
    assert journey.online_at == at(3)
    assert journey.offline_at == at(0)
    assert journey.store_id is not None


def test_window_is_inclusive_at_thirty_days_and_exclusive_beyond(
    world: World, at: Callable[[float], datetime]
) -> None:
    known(world, at(80))
    world.event("web", ME, at(30) + timedelta(days=1), sku="BIKE-LIGHT-USB")  # exactly 30 days
    world.event("web", ME, at(70) - timedelta(seconds=1), sku="BIKE-GLOVE-L")  # 30 d + 1 s
    world.buy(EMAIL, at(-1), skus=("BIKE-LIGHT-USB",))
    world.buy(EMAIL, at(40), skus=("BIKE-GLOVE-L",))
    assert world.journeys() == {(ROPO, "O-1", "BIKE-LIGHT-USB")}


def test_the_window_compares_instants_whatever_the_offsets_they_are_written_in(
    world: World, at: Callable[[float], datetime]
) -> None:
    known(world, at(80))
    bought = datetime(2026, 11, 10, 18, 0, tzinfo=ZoneInfo("America/New_York"))  # 23:00 UTC
    # (Arithmetic on aware times is wall-clock in Python: subtract in UTC.)
    instant = bought.astimezone(UTC)
    exactly = (instant - timedelta(days=30)).astimezone(ZoneInfo("Pacific/Kiritimati"))  # +14:00
    too_early = (instant - timedelta(days=30, seconds=1)).astimezone(ZoneInfo("Europe/Rome"))
    world.event("web", ME, exactly, sku="BIKE-LIGHT-USB")
    world.event("web", ME, too_early, sku="BIKE-GLOVE-L")
    world.buy(EMAIL, bought, skus=("BIKE-LIGHT-USB", "BIKE-GLOVE-L"))
    assert world.journeys() == {(ROPO, "O-1", "BIKE-LIGHT-USB")}
    [journey] = world.rows()
    assert journey.online_at == exactly
    assert journey.offline_at == bought


def test_the_window_is_a_duration_across_a_clock_change(
    world: World, at: Callable[[float], datetime]
) -> None:
    # Milan leaves summer time on 25 October 2026: from 11 October 10:00 to 10 November 10:00
    # on the wall clock is 30 days and one hour, so the view is outside a 30-day window.
    rome = ZoneInfo("Europe/Rome")
    known(world, at(80))
    world.event("web", ME, datetime(2026, 10, 11, 10, 0, tzinfo=rome), sku="BIKE-GLOVE-L")
    world.event("web", ME, datetime(2026, 10, 11, 11, 0, tzinfo=rome), sku="BIKE-LIGHT-USB")
    world.buy(
        EMAIL,
        datetime(2026, 11, 10, 10, 0, tzinfo=rome),
        skus=("BIKE-GLOVE-L", "BIKE-LIGHT-USB"),
    )
    assert world.journeys() == {(ROPO, "O-1", "BIKE-LIGHT-USB")}


def test_research_after_the_purchase_or_at_the_same_moment_does_not_count(
    world: World, at: Callable[[float], datetime]
) -> None:
    known(world, at(40))
    world.event("web", ME, at(1))
    world.event("web", ME, at(2), sku="BIKE-LIGHT-USB")
    world.buy(EMAIL, at(2), skus=("BIKE-LIGHT-USB",))  # same instant: not before
    world.buy(EMAIL, at(5))  # bought before looking
    assert world.journeys() == set()


def test_same_sku_only(world: World, at: Callable[[float], datetime]) -> None:
    known(world, at(40))
    world.event("web", ME, at(3), sku="BIKE-LIGHT-USB")
    world.buy(EMAIL, at(0), skus=("BIKE-HELM-M-BLU", "BIKE-GLOVE-L"))
    assert world.journeys() == set()


def test_sides_follow_the_channels(world: World, at: Callable[[float], datetime]) -> None:
    known(world, at(40))
    # Tried in the store, bought online: showrooming at the store where it was tried.
    world.event("till", {"userId": "u-giulia"}, at(5), event="Product Tried", store="TO-CENTRO")
    world.buy(EMAIL, at(1), channel="web", fulfilment="delivery", store=None)
    # Viewed online, bought online: no journey. Tried in store, bought in store: none.
    world.event("web", ME, at(5), sku="BIKE-LIGHT-USB")
    world.buy(
        EMAIL, at(1), channel="app", fulfilment="delivery", store=None, skus=("BIKE-LIGHT-USB",)
    )
    world.event("till", {"userId": "u-giulia"}, at(5), sku="BIKE-GLOVE-L", event="Product Tried")
    world.buy(EMAIL, at(1), skus=("BIKE-GLOVE-L",))
    assert world.journeys() == {(SHOW, "O-1", "BIKE-HELM-M-BLU")}
    [journey] = world.rows()
    assert (journey.online_at, journey.offline_at) == (at(1), at(5))


def test_product_page_counts_as_online_research(
    world: World, at: Callable[[float], datetime]
) -> None:
    known(world, at(40))
    world.event("web", ME, at(2), kind="page", event=None)
    world.buy(EMAIL, at(0))
    assert world.journeys() == {(ROPO, "O-1", "BIKE-HELM-M-BLU")}


def test_click_and_collect_and_its_collection(
    world: World, at: Callable[[float], datetime]
) -> None:
    order = world.buy(EMAIL, at(0), channel="web", fulfilment="pickup")
    world.buy(EMAIL, at(0), channel="web", fulfilment="delivery", store=None)
    world.buy(None, at(0), channel="store")
    assert world.journeys() == {(CC, "O-1", "BIKE-HELM-M-BLU")}
    owner = world.principals.owner.headers
    world.client.post(f"/api/v1/orders/{order}/ready", headers=owner)
    world.client.post(f"/api/v1/orders/{order}/collected", headers=owner)
    [journey] = world.rows()
    assert journey.offline_at == world.clock.now()


def test_cancelled_order_loses_its_journeys(world: World, at: Callable[[float], datetime]) -> None:
    order = world.buy(EMAIL, at(0), channel="web", fulfilment="pickup")
    world.client.post(f"/api/v1/orders/{order}/cancel", headers=world.principals.owner.headers)
    assert world.journeys() == set()


def test_anonymous_research_identified_after_the_purchase(
    world: World, at: Callable[[float], datetime]
) -> None:
    world.event("web", {"anonymousId": "tablet-1"}, at(6))
    world.buy(EMAIL, at(2))
    assert world.journeys() == set()
    world.identify("web", "tablet-1", EMAIL, at(1))  # the device joins Giulia
    world.run_jobs()
    assert world.journeys() == {(ROPO, "O-1", "BIKE-HELM-M-BLU")}


def test_late_older_event_finds_its_journey(world: World, at: Callable[[float], datetime]) -> None:
    known(world, at(40))
    world.buy(EMAIL, at(0))
    world.event("web", ME, at(4))  # arrives after the purchase, happened before it
    world.run_jobs()
    assert world.journeys() == {(ROPO, "O-1", "BIKE-HELM-M-BLU")}


def test_merge_creates_and_unmerge_removes_the_journey(
    world: World, at: Callable[[float], datetime]
) -> None:
    owner = world.principals.owner.headers
    world.event("web", {"userId": "u-other"}, at(5))
    world.buy(EMAIL, at(1))
    buyer = world.client.get("/api/v1/customers", params={"email": EMAIL}, headers=owner).json()
    browser = world.client.get(
        "/api/v1/customers", params={"user_id": "u-other"}, headers=owner
    ).json()
    buyer_id, browser_id = buyer["items"][0]["id"], browser["items"][0]["id"]
    merged = world.client.post(
        f"/api/v1/customers/{buyer_id}/merge", json={"other_id": browser_id}, headers=owner
    )
    assert merged.status_code == 200, merged.text
    world.run_jobs()
    assert world.journeys() == {(ROPO, "O-1", "BIKE-HELM-M-BLU")}
    survivor = merged.json()["id"]
    other = browser_id if survivor == buyer_id else buyer_id
    undone = world.client.post(
        f"/api/v1/customers/{survivor}/unmerge", json={"other_id": other}, headers=owner
    )
    assert undone.status_code == 200, undone.text
    world.run_jobs()
    assert world.journeys() == set()


def test_erasure_ends_the_persons_journeys_as_a_rebuild_would(
    world: World, at: Callable[[float], datetime]
) -> None:
    known(world, at(40))
    world.event("web", ME, at(3))
    order = world.buy(EMAIL, at(0))
    world.buy(EMAIL, at(0), channel="web", fulfilment="pickup")
    assert len(world.journeys()) == 2
    owner = world.principals.owner.headers
    customer = world.client.get(f"/api/v1/orders/{order}", headers=owner).json()["customer_id"]
    assert world.client.delete(f"/api/v1/customers/{customer}", headers=owner).status_code == 204
    # The research is gone with the person; the pickup stays a click & collect, anonymous.
    assert world.journeys() == {(CC, "O-2", "BIKE-HELM-M-BLU")}
    assert [j.customer_id for j in world.rows()] == [None]
    erased = {(j.kind, j.order_id, j.sku, j.customer_id) for j in world.rows()}
    with world.session_factory() as session, session.begin():
        rebuild(session)
    assert {(j.kind, j.order_id, j.sku, j.customer_id) for j in world.rows()} == erased
