"""Sources API: managers and the owner create tracking sources, list them, rotate their write
keys and switch them off and on; the write key in the answers is what /v1 accepts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from phygital.core.clock import FrozenClock
from tests.conftest import START, Principals
from tests.tracking.conftest import basic

SOURCES = "/api/v1/sources"
TRACK = {"anonymousId": "device-1", "event": "Product Viewed"}


def create(client: TestClient, who: Any, **body: Any) -> Any:
    return client.post(SOURCES, json={"name": "Web shop", "channel": "web", **body}, headers=who)


def tracks(client: TestClient, write_key: str) -> int:
    return client.post("/v1/track", json=TRACK, headers=basic(write_key)).status_code


@pytest.mark.parametrize("who", ["owner", "manager"])
def test_manager_or_owner_creates_a_source_with_a_working_key(
    client: TestClient, principals: Principals, who: str
) -> None:
    response = create(client, getattr(principals, who).headers, name="Till Milano", channel="store")
    assert response.status_code == 201, response.text
    source = response.json()
    assert source["name"] == "Till Milano"
    assert source["channel"] == "store"
    assert source["write_key"].startswith("wk_")
    assert source["events_count"] == 0
    assert source["last_event_at"] is None
    assert source["disabled_at"] is None
    assert source["id"]
    assert tracks(client, source["write_key"]) == 200


def test_each_source_gets_its_own_unguessable_key(
    client: TestClient, principals: Principals
) -> None:
    first = create(client, principals.owner.headers, name="Web").json()["write_key"]
    second = create(client, principals.owner.headers, name="App", channel="app").json()["write_key"]
    assert first != second
    assert len(first) >= 30


def test_channel_defaults_to_web(client: TestClient, principals: Principals) -> None:
    response = client.post(SOURCES, json={"name": "Shop"}, headers=principals.manager.headers)
    assert response.status_code == 201
    assert response.json()["channel"] == "web"


@pytest.mark.parametrize("who", ["seller_a", "seller_b"])
def test_seller_may_not_touch_sources(client: TestClient, principals: Principals, who: str) -> None:
    source_id = create(client, principals.owner.headers).json()["id"]
    headers = getattr(principals, who).headers
    assert create(client, headers, name="Mine").status_code == 403
    assert client.get(SOURCES, headers=headers).status_code == 403
    for action in ("rotate", "disable", "enable"):
        assert client.post(f"{SOURCES}/{source_id}/{action}", headers=headers).status_code == 403


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer phy_nope"}, basic("wk_test_website")],
    ids=["no token", "unknown token", "a write key"],
)
def test_without_a_valid_token_sources_are_401(
    client: TestClient, principals: Principals, headers: dict[str, str]
) -> None:
    source_id = create(client, principals.owner.headers).json()["id"]
    assert create(client, headers, name="Other").status_code == 401
    assert client.get(SOURCES, headers=headers).status_code == 401
    assert client.post(f"{SOURCES}/{source_id}/rotate", headers=headers).status_code == 401


def test_revoked_token_is_401(client: TestClient, principals: Principals) -> None:
    assert create(client, principals.outsider.headers).status_code == 401


def test_list_shows_every_source_by_name_with_its_counters(
    client: TestClient, principals: Principals, clock: FrozenClock
) -> None:
    web = create(client, principals.owner.headers, name="Web shop").json()
    create(client, principals.owner.headers, name="App", channel="app")
    create(client, principals.owner.headers, name="Till", channel="store")
    clock.advance(timedelta(minutes=5))
    assert tracks(client, web["write_key"]) == 200
    assert tracks(client, web["write_key"]) == 200

    response = client.get(SOURCES, headers=principals.manager.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    assert [s["name"] for s in body["items"]] == ["App", "Till", "Web shop"]
    listed = body["items"][2]
    assert listed["id"] == web["id"]
    assert listed["events_count"] == 2
    assert listed["last_event_at"].startswith(
        (START + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    )


def test_rotate_gives_a_new_key_and_the_old_one_stops_at_once(
    client: TestClient, principals: Principals
) -> None:
    source = create(client, principals.owner.headers).json()
    assert tracks(client, source["write_key"]) == 200
    response = client.post(f"{SOURCES}/{source['id']}/rotate", headers=principals.manager.headers)
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["id"] == source["id"]
    assert rotated["write_key"] != source["write_key"]
    assert rotated["events_count"] == 1
    assert tracks(client, source["write_key"]) == 401
    assert tracks(client, rotated["write_key"]) == 200
    [listed] = client.get(SOURCES, headers=principals.manager.headers).json()["items"]
    assert listed["write_key"] == rotated["write_key"]


def test_disable_refuses_the_sources_events_until_enabled(
    client: TestClient, principals: Principals, clock: FrozenClock
) -> None:
    source = create(client, principals.owner.headers).json()
    url = f"{SOURCES}/{source['id']}"
    response = client.post(f"{url}/disable", headers=principals.manager.headers)
    assert response.status_code == 200
    assert response.json()["disabled_at"].startswith(START.strftime("%Y-%m-%dT%H:%M:%S"))
    assert tracks(client, source["write_key"]) == 401

    clock.advance(timedelta(hours=1))  # disabling again keeps the first time
    again = client.post(f"{url}/disable", headers=principals.manager.headers).json()
    assert again["disabled_at"] == response.json()["disabled_at"]

    response = client.post(f"{url}/enable", headers=principals.manager.headers)
    assert response.status_code == 200
    assert response.json()["disabled_at"] is None
    assert response.json()["write_key"] == source["write_key"]
    assert tracks(client, source["write_key"]) == 200


@pytest.mark.parametrize("action", ["rotate", "disable", "enable"])
def test_unknown_source_is_404(client: TestClient, principals: Principals, action: str) -> None:
    response = client.post(f"{SOURCES}/nope/{action}", headers=principals.owner.headers)
    assert response.status_code == 404
    assert response.json()["detail"]


def test_duplicate_name_is_409(client: TestClient, principals: Principals) -> None:
    assert create(client, principals.owner.headers, name="Web shop").status_code == 201
    response = create(client, principals.owner.headers, name=" Web shop ")
    assert response.status_code == 409
    assert len(client.get(SOURCES, headers=principals.owner.headers).json()["items"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "channel": "web"},
        {"name": "   ", "channel": "web"},
        {"name": "x" * 201, "channel": "web"},
        {"name": "WhatsApp", "channel": "whatsapp"},  # a channel, but not one a source can be
        {"name": "Fax", "channel": "fax"},
        {"channel": "web"},
        {"name": "Web", "channel": "web", "write_key": "wk_mine"},
    ],
)
def test_invalid_source_is_422_and_not_created(
    client: TestClient, principals: Principals, body: dict[str, Any]
) -> None:
    response = client.post(SOURCES, json=body, headers=principals.owner.headers)
    assert response.status_code == 422, response.text
    assert client.get(SOURCES, headers=principals.owner.headers).json()["items"] == []
