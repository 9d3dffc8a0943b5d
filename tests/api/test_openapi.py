"""Schemathesis against our own OpenAPI: no request the schema allows makes the server fail, and
every answer matches what the schema promises."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import positive_data_acceptance

from tests.conftest import Principals


@pytest.fixture
def api_schema(app: FastAPI, principals: Principals):  # type: ignore[no-untyped-def]
    app.state.test_token = principals.owner.token
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_honours_its_schema(case: Case, app: FastAPI) -> None:
    headers = {"Authorization": f"Bearer {app.state.test_token}"}
    # Validation beyond what a schema can say (a real e-mail, a placeholder id, an existing
    # customer) answers 4xx to schema-valid input by design.
    case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])


def test_schema_documents_every_api_route(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    for expected in (
        "/api/v1/customers",
        "/api/v1/customers/{customer_id}",
        "/api/v1/customers/{customer_id}/timeline",
        "/api/v1/stores",
        "/api/v1/sources",
        "/v1/batch",
        "/v1/track",
        "/health",
    ):
        assert expected in paths
    assert not any(p.startswith(("/login", "/customers", "/settings")) for p in paths)


def test_text_with_nul_characters_is_refused_everywhere(client, principals) -> None:  # type: ignore[no-untyped-def]
    headers = principals.owner.headers
    store = client.post("/api/v1/stores", json={"code": "N", "name": "a\u0000b"}, headers=headers)
    assert store.status_code == 422
    assert "NUL" in str(store.json()["detail"])
    search = client.get("/api/v1/customers?q=ab%00cd", headers=headers)
    assert search.status_code == 422
    page = client.post(
        "/login",
        data={"email": "a\u0000@example.com", "password": "x"},
        headers={"Accept": "text/html"},
    )
    assert page.status_code == 422


def test_an_absurd_time_zone_is_invalid_input_not_a_crash(client, principals) -> None:  # type: ignore[no-untyped-def]
    for zone in ("0" * 300, "Europe/Nowhere", "../../etc/passwd", "Europe/Rom\u00e9"):
        response = client.post(
            "/api/v1/stores",
            json={"code": "Z", "name": "Z", "timezone": zone},
            headers=principals.owner.headers,
        )
        assert response.status_code == 422, zone
