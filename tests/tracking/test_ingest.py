"""The Segment-compatible tracking API (contract, section 2): /v1/* endpoints, write keys,
validation that stores nothing of a bad request, limits, gzip, retries, channels, products,
event times, consent and the source's counters."""

from __future__ import annotations

import base64
import gzip
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from phygital.core.clock import FrozenClock
from phygital.db import transaction
from phygital.tracking import service
from phygital.tracking.messages import parse_body
from phygital.tracking.models import Channel, Source
from tests.conftest import START, Principals
from tests.tracking.conftest import STORE_KEY, WEB_KEY, Stored, basic, make_source

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "segment" / "batch_web.json"
ANON = "5f1d2c3b-7a8e-4b9c-a1d2-e3f4a5b6c7d8"
JSON = {"Content-Type": "application/json"}

pytestmark = pytest.mark.usefixtures("web_source")


def send(
    client: TestClient,
    path: str,
    body: Any,
    *,
    key: str | None = WEB_KEY,
    headers: dict[str, str] | None = None,
) -> Any:
    """POST a body (JSON-encoded unless already bytes) with the write key as HTTP Basic."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {**JSON, **(basic(key) if key is not None else {}), **(headers or {})}
    return client.post(path, content=content, headers=all_headers)


def track(event: str = "Product Viewed", **fields: Any) -> dict[str, Any]:
    return {"type": "track", "anonymousId": ANON, "event": event, **fields}


# -- every endpoint stores its messages ---------------------------------------------------------

SINGLE_CALLS = {
    "identify": {"userId": "cust-1", "traits": {"email": "anna@example.com", "firstName": "Anna"}},
    "track": {"anonymousId": ANON, "event": "Product Added", "properties": {"sku": "SKU-1"}},
    "page": {"anonymousId": ANON, "name": "Home", "properties": {"path": "/"}},
    "screen": {"anonymousId": ANON, "name": "Cart"},
    "group": {"userId": "cust-1", "groupId": "family-7", "traits": {"name": "Rossi"}},
    "alias": {"previousId": ANON, "userId": "cust-1"},
}


@pytest.mark.parametrize("kind", list(SINGLE_CALLS))
def test_each_single_endpoint_stores_its_message(
    client: TestClient, stored: Stored, kind: str
) -> None:
    response = send(client, f"/v1/{kind}", SINGLE_CALLS[kind])
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}
    [event] = stored.events()
    assert event.type == kind


def test_the_endpoint_decides_the_type_of_a_single_call(client: TestClient, stored: Stored) -> None:
    response = send(client, "/v1/page", {**SINGLE_CALLS["page"], "type": "track"})
    assert response.status_code == 200, response.text
    assert [e.type for e in stored.events()] == ["page"]


def test_batch_stores_every_message_of_every_type(client: TestClient, stored: Stored) -> None:
    batch = [{"type": kind, **body} for kind, body in SINGLE_CALLS.items()]
    response = send(client, "/v1/batch", {"batch": batch})
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}
    assert [e.type for e in stored.events()] == list(SINGLE_CALLS)


def test_the_segment_fixture_batch_yields_one_customer_with_its_traits(
    client: TestClient, stored: Stored, principals: Principals
) -> None:
    raw = FIXTURE.read_bytes()
    response = client.post("/v1/batch", content=raw, headers={**JSON, **basic(WEB_KEY)})
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}

    found = client.get("/api/v1/customers?user_id=cust-000812", headers=principals.owner.headers)
    [summary] = found.json()["items"]
    assert summary["email"] == "giulia.bianchi@example.it"
    assert summary["phone"] == "+393471234567"
    customer = client.get(f"/api/v1/customers/{summary['id']}", headers=principals.owner.headers)
    body = customer.json()
    assert body["traits"]["firstName"] == "Giulia"
    assert body["traits"]["lastName"] == "Bianchi"
    identifiers = {(i["kind"], i["value"]) for i in body["identifiers"]}
    assert identifiers == {
        ("user_id", "cust-000812"),
        ("anonymous_id", ANON),
        ("email", "giulia.bianchi@example.it"),
        ("phone", "+393471234567"),
    }
    assert body["stats"]["events"] == 3
    assert body["stats"]["channels"] == ["web"]
    # The anonymous page view and product view joined the customer the identify named.
    assert stored.counts().profiles == 1
    events = stored.events()
    assert {e.profile_id for e in events} == {events[0].profile_id}
    assert [(e.type, e.name, e.sku) for e in events] == [
        ("page", "Casco urbano blu", "BIKE-HELM-M-BLU"),
        ("track", "Product Viewed", "BIKE-HELM-M-BLU"),
        ("identify", None, None),
    ]
    assert events[0].event_at == datetime(2026, 11, 18, 21, 14, 3, 120000, tzinfo=UTC)


def test_placeholder_user_id_beside_a_real_anonymous_id_is_ignored(
    client: TestClient, stored: Stored
) -> None:
    assert send(client, "/v1/track", track(userId="undefined")).status_code == 200
    [event] = stored.events()
    customer = stored.customer(event.profile_id)
    assert [(i.kind, i.value) for i in customer.identifiers] == [("anonymous_id", ANON)]


def test_alias_joins_the_earlier_anonymous_visits_to_the_user(
    client: TestClient, stored: Stored
) -> None:
    assert send(client, "/v1/page", {"anonymousId": ANON, "name": "Home"}).status_code == 200
    assert send(client, "/v1/identify", {"userId": "cust-3"}).status_code == 200
    assert send(client, "/v1/alias", {"previousId": ANON, "userId": "cust-3"}).status_code == 200
    page, identify, alias = stored.events()
    assert alias.type == "alias"
    customer = stored.customer(page.profile_id)
    assert customer.id == stored.customer(identify.profile_id).id
    assert {i.kind for i in customer.identifiers} == {"user_id", "anonymous_id"}
    assert customer.events == 3


# -- authentication -----------------------------------------------------------------------------


def test_write_key_in_the_body_is_accepted(client: TestClient, stored: Stored) -> None:
    response = send(client, "/v1/track", {**track(), "writeKey": WEB_KEY}, key=None)
    assert response.status_code == 200, response.text
    assert len(stored.events()) == 1


def test_basic_auth_without_the_colon_is_accepted(client: TestClient, stored: Stored) -> None:
    header = {"Authorization": "Basic " + base64.b64encode(WEB_KEY.encode()).decode()}
    response = send(client, "/v1/track", track(), key=None, headers=header)
    assert response.status_code == 200, response.text


def _disable(factory: sessionmaker[Session], clock: FrozenClock, source: Source) -> None:
    with transaction(factory) as session:
        service.set_enabled(session, clock=clock, source_id=source.id, enabled=False)


def _rotate(factory: sessionmaker[Session], clock: FrozenClock, source: Source) -> None:
    with transaction(factory) as session:
        service.rotate_key(session, source_id=source.id)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


UNAUTHENTICATED = {
    "no key": (None, {}, None),
    "wrong key": ("wk_nope", {}, None),
    "wrong key in the body": (None, {"writeKey": "wk_nope"}, None),
    "empty key in the body": (None, {"writeKey": ""}, None),
    "key as a bearer token": (None, {}, _bearer(WEB_KEY)),
    "basic header that is not base64": (None, {}, {"Authorization": "Basic %%%"}),
    "wrong basic key with a right body key": ("wk_nope", {"writeKey": WEB_KEY}, None),
    "disabled source": (WEB_KEY, {}, "disable"),
    "rotated-away key": (WEB_KEY, {}, "rotate"),
}


@pytest.mark.parametrize("case", list(UNAUTHENTICATED))
def test_anything_but_a_live_write_key_is_401_and_stores_nothing(
    client: TestClient,
    stored: Stored,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    web_source: Source,
    case: str,
) -> None:
    key, extra, how = UNAUTHENTICATED[case]
    headers = how if isinstance(how, dict) else None
    if how == "disable":
        _disable(session_factory, clock, web_source)
    elif how == "rotate":
        _rotate(session_factory, clock, web_source)
    before = stored.counts()
    for path, body in (("/v1/track", track()), ("/v1/batch", {"batch": [track()]})):
        response = send(client, path, {**body, **extra}, key=key, headers=headers)
        assert response.status_code == 401, (path, response.text)
        assert response.json()["detail"]
        assert response.headers["www-authenticate"].startswith("Basic")
    assert stored.counts() == before


def test_enabling_a_source_again_lets_its_key_in(
    client: TestClient,
    stored: Stored,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    web_source: Source,
) -> None:
    _disable(session_factory, clock, web_source)
    assert send(client, "/v1/track", track()).status_code == 401
    with transaction(session_factory) as session:
        service.set_enabled(session, clock=clock, source_id=web_source.id, enabled=True)
    assert send(client, "/v1/track", track()).status_code == 200


# -- invalid requests store nothing -------------------------------------------------------------

GOOD = track(messageId="good-1", properties={"sku": "SKU-1"})

INVALID: dict[str, tuple[str, Any, str]] = {
    "bad JSON": ("/v1/batch", b'{"batch": [', "body"),
    "JSON that is not UTF-8": ("/v1/batch", b'{"batch": "\xff"}', "body"),
    "body that is a list": ("/v1/batch", [GOOD], "body"),
    "body that is a string": ("/v1/track", "hello", "body"),
    "single call body that is a list": ("/v1/track", [GOOD], "body"),
    "batch missing": ("/v1/batch", {"messages": [GOOD]}, "batch"),
    "batch not a list": ("/v1/batch", {"batch": GOOD}, "batch"),
    "empty batch": ("/v1/batch", {"batch": []}, "batch"),
    "message not an object": ("/v1/batch", {"batch": [GOOD, "track"]}, "batch[1]"),
    "unknown type": ("/v1/batch", {"batch": [{**GOOD, "type": "purchase"}]}, "batch[0].type"),
    "missing type": (
        "/v1/batch",
        {"batch": [{k: v for k, v in GOOD.items() if k != "type"}]},
        "batch[0].type",
    ),
    "neither userId nor anonymousId": (
        "/v1/batch",
        {"batch": [{"type": "track", "event": "Product Viewed"}]},
        "batch[0].",
    ),
    "ids that are null": (
        "/v1/track",
        {"event": "Product Viewed", "userId": None, "anonymousId": None},
        "body.",
    ),
    "placeholder-only ids": (
        "/v1/batch",
        {"batch": [{**GOOD, "userId": "undefined", "anonymousId": "00000000-0000-0000-0000"}]},
        "batch[0].userId",
    ),
    "placeholder anonymous id": (
        "/v1/track",
        {"event": "Product Viewed", "anonymousId": "anonymous"},
        "body.anonymousId",
    ),
    "userId that is an object": (
        "/v1/batch",
        {"batch": [{**GOOD, "userId": {}}]},
        "batch[0].userId",
    ),
    "track without event": ("/v1/track", {"anonymousId": ANON}, "body.event"),
    "track with a blank event": (
        "/v1/batch",
        {"batch": [{**GOOD, "event": " "}]},
        "batch[0].event",
    ),
    "alias without previousId": ("/v1/alias", {"userId": "cust-1"}, "body.previousId"),
    "alias without userId": ("/v1/alias", {"previousId": ANON, "anonymousId": ANON}, "body.userId"),
    "group without groupId": ("/v1/group", {"userId": "cust-1"}, "body.groupId"),
    "bad timestamp": (
        "/v1/batch",
        {"batch": [{**GOOD, "timestamp": "yesterday"}]},
        "batch[0].timestamp",
    ),
    "timestamp that is a number": (
        "/v1/track",
        {**GOOD, "timestamp": 1763500000},
        "body.timestamp",
    ),
    "bad sentAt": ("/v1/batch", {"batch": [GOOD], "sentAt": "soon"}, "sentAt"),
    "properties not an object": (
        "/v1/batch",
        {"batch": [{**GOOD, "properties": ["sku"]}]},
        "batch[0].properties",
    ),
    "traits not an object": ("/v1/identify", {"userId": "cust-1", "traits": "vip"}, "body.traits"),
    "context not an object": ("/v1/batch", {"batch": [{**GOOD, "context": 7}]}, "batch[0].context"),
    "unknown context.channel": (
        "/v1/batch",
        {"batch": [{**GOOD, "context": {"channel": "carrier-pigeon"}}]},
        "batch[0].context.channel",
    ),
    "bad context.consent value": (
        "/v1/identify",
        {"userId": "cust-1", "context": {"consent": {"marketing": {"email": "yes"}}}},
        "body.context.consent",
    ),
    "unknown consent purpose": (
        "/v1/identify",
        {"userId": "cust-1", "context": {"consent": {"spam": {"email": True}}}},
        "body.context.consent",
    ),
    "unknown consent channel": (
        "/v1/identify",
        {"userId": "cust-1", "context": {"consent": {"marketing": {"pigeon": True}}}},
        "body.context.consent",
    ),
    "context.consent not an object": (
        "/v1/identify",
        {"userId": "cust-1", "context": {"consent": True}},
        "body.context.consent",
    ),
    "messageId too long": ("/v1/track", {**GOOD, "messageId": "m" * 101}, "body.messageId"),
    "only the last message of a batch invalid": (
        "/v1/batch",
        {
            "batch": [
                {"type": "identify", "userId": "cust-9", "traits": {"email": "nove@example.com"}},
                track(messageId="ok-2", properties={"sku": "SKU-2"}),
                {"type": "track", "userId": "cust-9"},
            ]
        },
        "batch[2].event",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_request_is_400_naming_the_field_and_stores_nothing(
    client: TestClient, stored: Stored, case: str
) -> None:
    assert send(client, "/v1/batch", {"batch": [track(messageId="earlier")]}).status_code == 200
    before = stored.counts()
    path, body, where = INVALID[case]
    response = send(client, path, body)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert detail.startswith(where), detail
    assert stored.counts() == before


RAW_INVALID: dict[str, tuple[bytes, str]] = {
    "JSON nested past the parser's depth": (
        b'{"batch": [{"type": "track", "properties": ' + b"[" * 5000 + b"]" * 5000 + b"}]}",
        "body",
    ),
    "JSON nested deeper than any payload": (
        b'{"batch": [{"type": "track", "properties": {"a": ' + b"[" * 100 + b"]" * 100 + b"}}]}",
        "body",
    ),
    "timestamp out of range once in UTC": (
        json.dumps({"batch": [{**GOOD, "timestamp": "0001-01-01T00:00:00+14:00"}]}).encode(),
        "batch[0].timestamp",
    ),
    "sentAt skew out of range": (
        json.dumps(
            {
                "batch": [{**GOOD, "originalTimestamp": "0001-01-01T00:00:00Z"}],
                "sentAt": "9999-12-31T23:59:59Z",
            }
        ).encode(),
        "batch[0].originalTimestamp",
    ),
}


@pytest.mark.parametrize("case", list(RAW_INVALID))
def test_hostile_json_is_400_not_a_server_error(
    client: TestClient, stored: Stored, case: str
) -> None:
    body, where = RAW_INVALID[case]
    response = send(client, "/v1/batch", body)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(where)
    assert stored.counts().events == 0


def test_values_no_database_can_store_are_cleaned_not_a_server_error(
    client: TestClient, stored: Stored
) -> None:
    # What Python's json module writes for float("nan") / float("inf"), NUL characters and lone
    # UTF-16 surrogates: PostgreSQL refuses all of them.
    raw = (
        rb'{"batch": [{"type": "track", "anonymousId": "dev\u0000ice-1", "event": "Cart\u0000",'
        rb' "properties": {"price": NaN, "total": Infinity, "big": 1e400, "q": "a\u0000b",'
        rb' "k\u0000": 1, "half": "x\ud800y", "pair": "\ud83d\udeb2"}},'
        rb' {"type": "page", "anonymousId": "device-1", "name": "\udfff"}]}'
    )
    response = send(client, "/v1/batch", raw)
    assert response.status_code == 200, response.text
    track_event, page_event = stored.events()
    assert track_event.name == "Cart"
    assert track_event.properties == {
        "price": None,
        "total": None,
        "big": None,
        "q": "ab",
        "k": 1,
        "half": "x\ufffdy",
        "pair": "\U0001f6b2",
    }
    assert page_event.name == "\ufffd"
    assert track_event.profile_id == page_event.profile_id  # the same device, NUL or not


@pytest.mark.parametrize(
    "headers",
    [
        basic("wk_test\x00website"),
        {
            "Authorization": "Basic "
            + base64.b64encode("wk_\ud800:".encode("utf-8", "surrogatepass")).decode()
        },
        basic("wk_" + "x" * 300),
    ],
)
def test_write_key_no_source_could_have_is_401_not_a_server_error(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = send(client, "/v1/track", track(), key=None, headers=headers)
    assert response.status_code == 401
    response = send(client, "/v1/track", {**track(), "writeKey": "wk\u0000"}, key=None)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "key", "status", "code"),
    [
        ({"batch": []}, WEB_KEY, 400, "invalid_request"),
        ({"batch": [GOOD]}, "wk_nope", 401, "invalid_write_key"),
        ({"batch": [track(properties={"p": "x" * 40_000})]}, WEB_KEY, 413, "too_large"),
    ],
)
def test_error_body_has_the_code_and_message_the_sdks_read(
    client: TestClient, body: Any, key: str, status: int, code: str
) -> None:
    response = send(client, "/v1/batch", body, key=key)
    assert response.status_code == status
    answer = response.json()
    assert answer["code"] == code
    assert answer["message"] == answer["detail"]


def test_missing_id_detail_says_what_is_required(client: TestClient) -> None:
    response = send(client, "/v1/batch", {"batch": [GOOD, {"type": "page"}]})
    assert response.status_code == 400
    assert response.json()["detail"] == "batch[1].anonymousId: userId or anonymousId is required"


# -- sizes and compression ----------------------------------------------------------------------


def _padded(index: int, size: int) -> dict[str, Any]:
    return track(messageId=f"m-{index}", properties={"padding": "x" * size})


def test_request_over_500_kb_is_413_and_stores_nothing(client: TestClient, stored: Stored) -> None:
    batch = [_padded(i, 30_000) for i in range(18)]  # each under 32 KB, ~540 KB in all
    body = json.dumps({"batch": batch}).encode()
    assert len(body) > 500 * 1024
    response = send(client, "/v1/batch", body)
    assert response.status_code == 413
    assert response.json()["detail"]
    assert stored.counts().events == 0


def test_request_just_under_500_kb_is_accepted(client: TestClient, stored: Stored) -> None:
    batch = [_padded(i, 31_500) for i in range(16)]
    body = json.dumps({"batch": batch}).encode()
    assert 480 * 1024 < len(body) <= 500 * 1024
    assert send(client, "/v1/batch", body).status_code == 200
    assert stored.counts().events == 16


def test_chunked_request_over_500_kb_is_413(client: TestClient, stored: Stored) -> None:
    body = json.dumps({"batch": [_padded(i, 30_000) for i in range(18)]}).encode()

    def chunks() -> Any:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = client.post("/v1/batch", content=chunks(), headers={**JSON, **basic(WEB_KEY)})
    assert response.status_code == 413
    assert stored.counts().events == 0


def test_message_over_32_kb_is_413_and_stores_nothing_of_the_batch(
    client: TestClient, stored: Stored
) -> None:
    batch = [track(messageId="small"), _padded(1, 33 * 1024)]
    response = send(client, "/v1/batch", {"batch": batch})
    assert response.status_code == 413
    assert response.json()["detail"].startswith("batch[1]")
    response = send(client, "/v1/track", _padded(2, 33 * 1024))
    assert response.status_code == 413
    assert stored.counts().events == 0


def test_the_32_kb_limit_counts_non_ascii_characters_as_their_escapes(
    client: TestClient, stored: Stored
) -> None:
    # 12,000 "é" are 24 KB of UTF-8 but 72 KB as \u00e9 escapes, the measure the browser
    # snippet applies before sending.
    accented = track(properties={"note": "é" * 12_000})
    batch = [track(messageId="small"), accented, _padded(2, 10 * 1024)]
    response = send(client, "/v1/batch", {"batch": batch})
    assert response.status_code == 413
    assert response.json()["detail"].startswith("batch[1]")
    assert stored.counts().events == 0


def test_gzip_body_is_accepted(client: TestClient, stored: Stored) -> None:
    body = gzip.compress(json.dumps({"batch": [track(), track("Product Added")]}).encode())
    response = send(client, "/v1/batch", body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert [e.name for e in stored.events()] == ["Product Viewed", "Product Added"]


def test_bad_gzip_is_400(client: TestClient, stored: Stored) -> None:
    body = json.dumps({"batch": [track()]}).encode()
    response = send(client, "/v1/batch", body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("body")
    truncated = gzip.compress(body)[:-12]
    response = send(client, "/v1/batch", truncated, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert stored.counts().events == 0


def test_gzip_bomb_inflating_over_500_kb_is_413(client: TestClient, stored: Stored) -> None:
    inflated = json.dumps({"batch": [track()], "padding": " " * (2 * 1024 * 1024)}).encode()
    bomb = gzip.compress(inflated)
    assert len(bomb) < 10 * 1024
    response = send(client, "/v1/batch", bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert stored.counts().events == 0


# -- retries ------------------------------------------------------------------------------------


def test_repeated_message_id_in_one_batch_is_stored_once(
    client: TestClient, stored: Stored, web_source: Source
) -> None:
    batch = [track(messageId="dup"), track("Product Added", messageId="dup"), track(messageId="x")]
    assert send(client, "/v1/batch", {"batch": batch}).status_code == 200
    assert [(e.message_id, e.name) for e in stored.events()] == [
        ("dup", "Product Viewed"),
        ("x", "Product Viewed"),
    ]
    assert stored.source(web_source.id).events_count == 2


def test_retried_request_is_stored_once(
    client: TestClient, stored: Stored, web_source: Source
) -> None:
    body = {"batch": [track(messageId="r-1"), track(messageId="r-2")]}
    for _ in range(3):
        response = send(client, "/v1/batch", body)
        assert response.status_code == 200
        assert response.json() == {"success": True}
    assert [e.message_id for e in stored.events()] == ["r-1", "r-2"]
    assert stored.source(web_source.id).events_count == 2
    profiles = stored.counts().profiles
    assert profiles == 1


def test_same_message_id_from_another_source_is_stored(
    client: TestClient, stored: Stored, web_source: Source, store_source: Source
) -> None:
    assert send(client, "/v1/track", track(messageId="shared")).status_code == 200
    assert send(client, "/v1/track", track(messageId="shared"), key=STORE_KEY).status_code == 200
    events = stored.events()
    assert [(e.message_id, e.source_id) for e in events] == [
        ("shared", web_source.id),
        ("shared", store_source.id),
    ]


def test_a_retry_racing_its_original_is_stored_once(
    session_factory: sessionmaker[Session], clock: FrozenClock, stored: Stored, web_source: Source
) -> None:
    """A client that timed out retries while the first attempt is still being written."""
    messages = parse_body(
        {"batch": [track(messageId="race")]}, endpoint_type=None, received_at=START, region="IT"
    )
    errors: list[BaseException] = []
    first_stored = threading.Event()

    def retry() -> None:
        try:
            first_stored.wait(10)
            with transaction(session_factory) as session:
                source = service.source_for_key(session, WEB_KEY)
                service.ingest(session, clock=clock, source=source, messages=messages)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=retry)
    thread.start()
    with transaction(session_factory) as session:
        source = service.source_for_key(session, WEB_KEY)
        assert service.ingest(session, clock=clock, source=source, messages=messages) == 1
        first_stored.set()
        thread.join(0.5)  # the retry now waits for this transaction
    thread.join(15)
    assert not errors, errors
    assert [e.message_id for e in stored.events()] == ["race"]
    assert stored.source(web_source.id).events_count == 1


# -- channels -----------------------------------------------------------------------------------


def test_event_channel_is_the_source_channel(
    client: TestClient, stored: Stored, store_source: Source
) -> None:
    assert send(client, "/v1/track", track(messageId="w")).status_code == 200
    assert send(client, "/v1/track", track(messageId="s"), key=STORE_KEY).status_code == 200
    assert [e.channel for e in stored.events()] == ["web", "store"]


@pytest.mark.parametrize("channel", ["store", "agent", "whatsapp", "app"])
def test_context_channel_overrides_the_source_channel(
    client: TestClient, stored: Stored, principals: Principals, channel: str
) -> None:
    body = track("Product Tried", userId="cust-5", context={"channel": channel})
    assert send(client, "/v1/track", body).status_code == 200
    [event] = stored.events()
    assert event.channel == channel
    found = client.get("/api/v1/customers?user_id=cust-5", headers=principals.owner.headers)
    customer_id = found.json()["items"][0]["id"]
    customer = client.get(f"/api/v1/customers/{customer_id}", headers=principals.owner.headers)
    assert customer.json()["stats"]["channels"] == [channel]


def test_batch_context_applies_to_its_messages_unless_they_say_otherwise(
    client: TestClient, stored: Stored
) -> None:
    body = {
        "batch": [track(messageId="a"), track(messageId="b", context={"channel": "agent"})],
        "context": {"channel": "store"},
    }
    assert send(client, "/v1/batch", body).status_code == 200
    assert [e.channel for e in stored.events()] == ["store", "agent"]


# -- products -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "sku"),
    [
        (track("Product Viewed", properties={"sku": "BIKE-1"}), "BIKE-1"),
        (track("Product Added", properties={"product_id": "BIKE-2"}), "BIKE-2"),
        (track("Product Tried", properties={"product_id": 4711}), "4711"),
        (track("Product Viewed", properties={"sku": " BIKE-3 ", "product_id": "P-3"}), "BIKE-3"),
        (track("Product Viewed", properties={"sku": "", "product_id": "P-4"}), "P-4"),
        ({"type": "page", "anonymousId": ANON, "properties": {"sku": "BIKE-5"}}, "BIKE-5"),
        ({"type": "page", "anonymousId": ANON, "properties": {"product_id": "P-6"}}, "P-6"),
        ({"type": "page", "anonymousId": ANON, "properties": {"path": "/chi-siamo"}}, None),
        (track("Product Viewed", properties={"sku": True}), None),
        ({"type": "identify", "userId": "cust-1", "properties": {"sku": "X"}}, None),
    ],
)
def test_product_sku_is_stored_on_product_events_and_pages(
    client: TestClient, stored: Stored, call: dict[str, Any], sku: str | None
) -> None:
    assert send(client, "/v1/batch", {"batch": [call]}).status_code == 200
    [event] = stored.events()
    assert event.sku == sku


# -- event time ---------------------------------------------------------------------------------


def _event_at(client: TestClient, stored: Stored, path: str, body: dict[str, Any]) -> datetime:
    response = send(client, path, body)
    assert response.status_code == 200, response.text
    return stored.events()[-1].event_at


def test_timestamp_is_the_event_time(client: TestClient, stored: Stored) -> None:
    body = track(timestamp="2026-11-19T18:30:00.250+01:00", originalTimestamp="2020-01-01T00:00Z")
    at = _event_at(client, stored, "/v1/track", body)
    assert at == datetime(2026, 11, 19, 17, 30, 0, 250000, tzinfo=UTC)


def test_timestamp_in_zulu_or_without_offset_is_utc(client: TestClient, stored: Stored) -> None:
    at = _event_at(client, stored, "/v1/track", track(timestamp="2026-11-19T08:00:00Z"))
    assert at == datetime(2026, 11, 19, 8, tzinfo=UTC)
    at = _event_at(client, stored, "/v1/track", track(timestamp="2026-11-19T07:00:00"))
    assert at == datetime(2026, 11, 19, 7, tzinfo=UTC)


def test_original_timestamp_is_corrected_by_the_batch_sent_at_skew(
    client: TestClient, stored: Stored
) -> None:
    # The device clock is 10 minutes fast; the event happened 5 minutes before sending.
    device_now = START + timedelta(minutes=10)
    body = {
        "batch": [track(originalTimestamp=(device_now - timedelta(minutes=5)).isoformat())],
        "sentAt": device_now.isoformat(),
    }
    assert _event_at(client, stored, "/v1/batch", body) == START - timedelta(minutes=5)


def test_original_timestamp_is_corrected_by_the_message_sent_at(
    client: TestClient, stored: Stored
) -> None:
    device_now = START - timedelta(hours=2)  # a device clock two hours slow
    body = track(
        originalTimestamp=(device_now - timedelta(seconds=30)).isoformat(),
        sentAt=device_now.isoformat(),
    )
    assert _event_at(client, stored, "/v1/track", body) == START - timedelta(seconds=30)


def test_original_timestamp_without_sent_at_is_taken_as_is(
    client: TestClient, stored: Stored
) -> None:
    body = track(originalTimestamp="2026-11-20T08:00:00+00:00")
    assert _event_at(client, stored, "/v1/track", body) == datetime(2026, 11, 20, 8, tzinfo=UTC)


def test_without_times_the_event_time_is_the_received_time(
    client: TestClient, stored: Stored, clock: FrozenClock
) -> None:
    clock.advance(timedelta(minutes=3))
    assert _event_at(client, stored, "/v1/track", track()) == START + timedelta(minutes=3)
    [event] = stored.events()
    assert event.received_at == START + timedelta(minutes=3)


def test_timestamp_far_in_the_future_falls_back_to_the_received_time(
    client: TestClient, stored: Stored
) -> None:
    body = track(timestamp=(START + timedelta(days=30)).isoformat())
    assert _event_at(client, stored, "/v1/track", body) == START


# -- consent ------------------------------------------------------------------------------------


def test_context_consent_is_recorded_on_the_profile(
    client: TestClient, principals: Principals, stored: Stored
) -> None:
    body = {
        "userId": "cust-7",
        "traits": {"email": "sette@example.com"},
        "timestamp": "2026-11-19T10:00:00Z",
        "context": {
            "consent": {
                "marketing": {"email": True, "whatsapp": False},
                "profiling": {"email": True},
                "wording": "Voglio ricevere offerte",
            }
        },
    }
    assert send(client, "/v1/identify", body).status_code == 200
    found = client.get("/api/v1/customers?user_id=cust-7", headers=principals.owner.headers)
    customer_id = found.json()["items"][0]["id"]
    customer = client.get(f"/api/v1/customers/{customer_id}", headers=principals.owner.headers)
    consents = customer.json()["consents"]
    assert consents["marketing"]["email"]["granted"] is True
    assert consents["marketing"]["whatsapp"]["granted"] is False
    assert consents["profiling"]["email"]["granted"] is True
    assert consents["marketing"]["email"]["source"] == "tracking:Web shop"
    assert consents["marketing"]["email"]["at"].startswith("2026-11-19T10:00:00")
    assert stored.counts().consents == 3


def test_consent_of_a_retried_message_is_recorded_once(client: TestClient, stored: Stored) -> None:
    body = track(
        messageId="c-1", userId="cust-8", context={"consent": {"marketing": {"sms": True}}}
    )
    for _ in range(2):
        assert send(client, "/v1/track", body).status_code == 200
    assert stored.counts().consents == 1


# -- the source's counters ----------------------------------------------------------------------


def test_source_counts_its_events_and_remembers_the_last(
    client: TestClient, stored: Stored, clock: FrozenClock, web_source: Source
) -> None:
    assert stored.source(web_source.id).events_count == 0
    assert stored.source(web_source.id).last_event_at is None
    assert send(client, "/v1/batch", {"batch": [track(), track(), track()]}).status_code == 200
    source = stored.source(web_source.id)
    assert (source.events_count, source.last_event_at) == (3, START)

    later = clock.advance(timedelta(hours=1))
    assert send(client, "/v1/page", {"anonymousId": ANON}).status_code == 200
    source = stored.source(web_source.id)
    assert (source.events_count, source.last_event_at) == (4, later)


def test_rejected_request_leaves_the_source_counters_alone(
    client: TestClient, stored: Stored, clock: FrozenClock, web_source: Source
) -> None:
    assert send(client, "/v1/track", track()).status_code == 200
    clock.advance(timedelta(hours=1))
    assert send(client, "/v1/batch", {"batch": [track(), {"type": "track"}]}).status_code == 400
    source = stored.source(web_source.id)
    assert (source.events_count, source.last_event_at) == (1, START)


def test_app_source_events_are_app_events(
    client: TestClient, stored: Stored, session_factory: sessionmaker[Session]
) -> None:
    make_source(session_factory, "App", Channel.APP, "wk_test_app")
    body = {"anonymousId": ANON, "name": "Checkout"}
    assert send(client, "/v1/screen", body, key="wk_test_app").status_code == 200
    assert [e.channel for e in stored.events()] == ["app"]


def test_unknown_tracking_path_answers_with_the_code_sdks_read(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/v1/nothing-here", json={})
    assert response.status_code in (404, 405)
    body = response.json()
    assert body["code"] and body["message"] and body["detail"]
