"""No signed body, however odd, makes a webhook fail: it is processed, ignored or rejected with
a reason (`200` or `400`), never a `500` (on PostgreSQL too, which refuses NUL and lone
surrogates). And the documented routes honour their schema with the secrets configured."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import positive_data_acceptance
from sqlalchemy import Engine

from phygital.core.clock import FrozenClock
from phygital.main import create_app
from tests.commerce.webhooks.conftest import fixture_json, post_shopify, post_woo, shop_settings

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["", "0", "-1", "2026-11-20T18:42:10+01:00", "12.345", "MI-BRERA"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_ids = itertools.count()


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """The fixture with one to three values, anywhere in it, replaced by arbitrary JSON."""
    body = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        node: Any = body
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            child = node[key]
            if isinstance(child, dict | list) and child and draw(st.booleans()):
                node = child
                continue
            node[key] = draw(JSON_VALUES)
            break
    return body


def _ok(response: Any) -> None:
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["detail"]


@given(body=mutated(fixture_json("shopify/orders_create_pickup.json")))
@SETTINGS
def test_any_signed_shopify_order_is_answered_200_or_400(
    shop_client: TestClient, stores: dict[str, str], body: dict[str, Any]
) -> None:
    topic = "orders/updated"
    _ok(post_shopify(shop_client, body, topic=topic, webhook_id=f"fuzz-{next(_ids)}"))


@given(body=mutated(fixture_json("woocommerce/order_created_pickup.json")))
@SETTINGS
def test_any_signed_woocommerce_order_is_answered_200_or_400(
    shop_client: TestClient, stores: dict[str, str], body: dict[str, Any]
) -> None:
    _ok(post_woo(shop_client, body, topic="order.updated", delivery_id=f"fuzz-{next(_ids)}"))


@given(body=JSON_VALUES)
@SETTINGS
def test_any_signed_json_under_any_topic_is_answered_200_or_400(
    shop_client: TestClient, body: Any
) -> None:
    content = json.dumps(body).encode()
    n = next(_ids)
    _ok(post_shopify(shop_client, content, topic="customers/create", webhook_id=f"c-{n}"))
    _ok(post_woo(shop_client, content, topic="order.deleted", delivery_id=f"d-{n}"))


@pytest.fixture
def secret_app(db_url: str, clock: FrozenClock, engine: Engine) -> Iterator[FastAPI]:
    yield create_app(shop_settings(db_url), clock=clock, engine=engine)


@pytest.fixture
def webhook_schema(secret_app: FastAPI):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_asgi("/openapi.json", secret_app)


schema = schemathesis.pytest.from_fixture("webhook_schema").include(path_regex="^/webhooks/")


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_webhook_routes_honour_their_schema_with_secrets_set(case: Case) -> None:
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
