"""The real Segment and RudderStack Python SDKs, unchanged, against a real `phygital serve`.

One server per module, on a fresh database of the run's kind. The write key comes the way an
operator gets one: `phygital token create`, then `POST /api/v1/sources` on the running server.
Each client sends identify, track and page from its own thread, as in an application, and the
customer is then read back through the REST API.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient

from tests import dbs
from tests.e2e.server import phygital_command, server_env, serving

ANON = "0b7c6a1e-3f2d-4c5b-9a8e-7d6c5b4a3f2e"


@dataclass(frozen=True)
class Server:
    url: str
    token: str
    write_key: str

    def api(self, path: str) -> Any:
        response = httpx.get(
            f"{self.url}{path}", headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json()


def _token(env: dict[str, str], workdir: Path) -> str:
    done = subprocess.run(
        [*phygital_command(), "token", "create", "sdk-tests", "--role", "manager"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def server(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("sdk")
    database_url = dbs.new_database_url(db_kind, workdir)
    env = server_env(database_url)
    try:
        token = _token(env, workdir)  # also creates the schema
        with serving(env, workdir) as url:
            response = httpx.post(
                f"{url}/api/v1/sources",
                json={"name": "Sito web", "channel": "web"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert response.status_code == 201, response.text
            yield Server(url=url, token=token, write_key=response.json()["write_key"])
    finally:
        dbs.drop_database(database_url)


class Errors:
    """Collects what a client's `on_error` reports (it drops the batch otherwise silently).
    Not a list: the clients test `if self.on_error:`, and an empty list is false."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, error: Exception, batch: list[dict[str, Any]]) -> None:
        self.seen.append(f"{error} ({len(batch)} messages)")


def make_client(kind: str, server: Server, errors: Errors, *, gzip: bool, key: str = "") -> Any:
    options = {"host": server.url, "on_error": errors, "gzip": gzip, "max_retries": 2}
    if kind == "segment":
        return SegmentClient(key or server.write_key, **options)
    return RudderClient(key or server.write_key, **options)


def send_visit(client: Any, user_id: str, sku: str) -> None:
    """A visitor looks at a product, then logs in (the calls an online shop makes)."""
    client.page(
        anonymous_id=ANON + user_id,
        category="Prodotti",
        name="Casco urbano",
        properties={"path": f"/prodotti/{sku}", "sku": sku, "title": "Casco urbano"},
    )
    client.track(
        anonymous_id=ANON + user_id,
        event="Product Viewed",
        properties={"sku": sku, "price": 89.9, "currency": "EUR"},
    )
    client.identify(
        user_id=user_id,
        anonymous_id=ANON + user_id,
        traits={"email": f"{user_id}@example.it", "firstName": "Giulia", "lastName": "Bianchi"},
    )
    client.flush()
    client.join()


@pytest.mark.parametrize(
    ("kind", "gzip"),
    [("segment", False), ("segment", True), ("rudderstack", True), ("rudderstack", False)],
    ids=["segment", "segment-gzip", "rudderstack", "rudderstack-plain"],
)
def test_sdk_events_reach_one_customer(server: Server, kind: str, gzip: bool) -> None:
    user_id = f"{kind}-{'gz' if gzip else 'plain'}-1"
    sku = f"HELM-{kind.upper()}"
    errors = Errors()
    send_visit(make_client(kind, server, errors, gzip=gzip), user_id, sku)
    assert errors.seen == []

    [summary] = server.api(f"/api/v1/customers?user_id={user_id}")["items"]
    assert summary["email"] == f"{user_id}@example.it"
    customer = server.api(f"/api/v1/customers/{summary['id']}")
    assert customer["traits"]["firstName"] == "Giulia"
    assert customer["stats"]["events"] == 3
    assert customer["stats"]["channels"] == ["web"]
    kinds = {i["kind"]: i["value"] for i in customer["identifiers"]}
    assert kinds["anonymous_id"] == ANON + user_id
    timeline = server.api(f"/api/v1/customers/{summary['id']}/timeline")["items"]
    assert sorted(i["kind"] for i in timeline) == ["identify", "page", "track"]
    summaries = {i["summary"] for i in timeline}
    assert f"Product Viewed · {sku}" in summaries
    assert f"page: Casco urbano · {sku}" in summaries


def test_every_segment_call_type_is_accepted(server: Server) -> None:
    errors = Errors()
    client = make_client("segment", server, errors, gzip=False)
    client.identify(user_id="segment-calls-1", traits={"email": "calls@example.it"})
    client.screen(user_id="segment-calls-1", name="Carrello")
    client.group(user_id="segment-calls-1", group_id="famiglia-7", traits={"name": "Bianchi"})
    client.alias(previous_id="device-calls-1", user_id="segment-calls-1")
    client.track(user_id="segment-calls-1", event="Order Completed", message_id="order-1")
    client.track(user_id="segment-calls-1", event="Order Completed", message_id="order-1")
    client.flush()
    client.join()
    assert errors.seen == []
    [summary] = server.api("/api/v1/customers?user_id=segment-calls-1")["items"]
    customer = server.api(f"/api/v1/customers/{summary['id']}")
    assert customer["stats"]["events"] == 5  # the repeated messageId is stored once


REJECTED = {
    "wrong key": ("wk_not_ours", {}, "invalid_write_key: unknown or disabled write key (401)"),
    "invalid message": (
        "",
        {"context": {"channel": "pigeon"}},
        "invalid_request: batch[0].context.channel: unknown channel 'pigeon'",
    ),
}


@pytest.mark.parametrize("case", list(REJECTED))
@pytest.mark.parametrize("kind", ["segment", "rudderstack"])
def test_sdk_reports_a_rejected_batch_once_without_retrying(
    server: Server, kind: str, case: str
) -> None:
    key, extra, reported = REJECTED[case]
    user_id = f"{kind}-rejected-{len(key)}"
    errors = Errors()
    client = make_client(kind, server, errors, gzip=False, key=key)
    client.track(user_id=user_id, event="Product Viewed", **extra)
    client.flush()
    client.join()
    assert len(errors.seen) == 1, errors.seen
    assert reported in errors.seen[0]
    assert server.api(f"/api/v1/customers?user_id={user_id}")["items"] == []
