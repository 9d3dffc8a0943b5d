"""The browser snippet at the API level: the file, the line to paste, text/plain bodies with the
write key inside (what sendBeacon sends) and CORS on /v1 only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from phygital.tracking import service
from phygital.tracking.models import Channel, Event
from phygital.tracking.snippet import SNIPPET_FILE, snippet_line
from tests.conftest import Principals

SHOP = "https://shop.example.com"
ANON = "0b6f3c8e-2a41-4d7f-9e0c-5a1b2c3d4e5f"
BEACON = {"Content-Type": "text/plain;charset=UTF-8", "Origin": SHOP}


@pytest.fixture
def write_key(db: Session) -> str:
    source = service.create_source(db, name="Shop", channel=Channel.WEB)
    db.commit()
    return source.write_key


def snippet_batch(write_key: str, **extra: Any) -> bytes:
    """A body shaped like the one phygital.js sends."""
    message = {
        "type": "page",
        "messageId": "m-1",
        "originalTimestamp": "2026-11-20T09:00:00.000Z",
        "anonymousId": ANON,
        "properties": {"path": "/p/helmet", "title": "Helmet", "sku": "BIKE-HELM-M-BLU"},
        "context": {
            "page": {"path": "/p/helmet", "url": f"{SHOP}/p/helmet", "title": "Helmet"},
            "library": {"name": "phygital.js", "version": "1.0.0"},
        },
    }
    body = {"batch": [message], "sentAt": "2026-11-20T09:00:02.000Z", "writeKey": write_key}
    return json.dumps({**body, **extra}).encode()


def test_snippet_is_served_as_cacheable_javascript(client: TestClient) -> None:
    response = client.get("/js/phygital.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/javascript; charset=utf-8"
    assert "max-age=3600" in response.headers["cache-control"]
    assert response.content == SNIPPET_FILE.read_bytes()
    assert '"phygital.js"' in response.text
    assert "set-cookie" not in response.headers


def test_snippet_revalidation_answers_not_modified(client: TestClient) -> None:
    etag = client.get("/js/phygital.js").headers["etag"]
    again = client.get("/js/phygital.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_snippet_stays_small() -> None:
    # A budget so that the file a shop's every visitor downloads does not grow unnoticed.
    assert len(SNIPPET_FILE.read_bytes()) < 12_000


def test_snippet_line_is_one_script_tag_pointing_at_phygital() -> None:
    assert snippet_line("https://cx.example.com/", "wk_abc123") == (
        '<script src="https://cx.example.com/js/phygital.js" data-write-key="wk_abc123" async>'
        "</script>"
    )
    assert 'data-write-key="a&quot;b"' in snippet_line("https://cx.example.com", 'a"b')


def test_text_plain_body_with_write_key_is_stored(
    client: TestClient, db: Session, write_key: str
) -> None:
    response = client.post("/v1/batch", content=snippet_batch(write_key), headers=BEACON)
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}
    event = db.scalars(select(Event)).one()
    assert (event.type, event.sku, event.message_id) == ("page", "BIKE-HELM-M-BLU", "m-1")


def test_text_plain_body_with_an_unknown_write_key_is_refused(
    client: TestClient, db: Session, write_key: str
) -> None:
    body = snippet_batch(write_key, writeKey="wk_nope")
    response = client.post("/v1/batch", content=body, headers=BEACON)
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == "*"
    assert db.scalars(select(Event)).all() == []


def test_tracking_preflight_is_answered_for_any_origin(client: TestClient) -> None:
    response = client.options(
        "/v1/batch",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization,content-encoding",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"content-type", "authorization", "content-encoding"} <= allowed
    assert int(response.headers["access-control-max-age"]) > 0


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/track", "/v1/identify"])
def test_tracking_responses_allow_any_origin(client: TestClient, write_key: str, path: str) -> None:
    ok = client.post("/v1/batch", content=snippet_batch(write_key), headers=BEACON)
    assert ok.headers["access-control-allow-origin"] == "*"
    invalid = client.post(path, content=b"{not json", headers=BEACON)
    assert invalid.status_code == 400
    assert invalid.headers["access-control-allow-origin"] == "*"


def test_api_and_web_app_do_not_answer_cross_origin(
    client: TestClient, principals: Principals
) -> None:
    bearer = {"Authorization": f"Bearer {principals.owner.token}", "Origin": SHOP}
    api = client.get("/api/v1/sources", headers=bearer)
    assert api.status_code == 200
    assert "access-control-allow-origin" not in api.headers

    preflight = client.options(
        "/api/v1/sources",
        headers={"Origin": SHOP, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code != 204
    assert "access-control-allow-origin" not in preflight.headers

    for path in ("/login", "/health", "/v10/batch"):
        response = client.get(path, headers={"Origin": SHOP})
        assert "access-control-allow-origin" not in response.headers, path
