"""Journeys test helpers: a web source and a till source, product events and orders at given
times, the journeys as plain tuples, and the worker that runs the refresh jobs."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from phygital.core.clock import FrozenClock
from phygital.core.jobs import Worker
from phygital.db import transaction
from phygital.journeys.models import Journey
from phygital.tracking import service as tracking_service
from phygital.tracking.models import Channel
from tests.commerce.conftest import shop  # noqa: F401  (the stores and products fixture)
from tests.conftest import START, Principals

DAY = timedelta(days=1)


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@dataclass
class World:
    client: TestClient
    principals: Principals
    keys: dict[str, str]
    session_factory: sessionmaker[Session]
    clock: FrozenClock
    orders: int = 0

    def event(
        self,
        source: str,
        who: dict[str, str],
        at: datetime,
        *,
        sku: str = "BIKE-HELM-M-BLU",
        event: str | None = "Product Viewed",
        kind: str = "track",
        store: str | None = None,
    ) -> None:
        message: dict[str, Any] = {"type": kind, "timestamp": at.isoformat(), **who}
        props: dict[str, Any] = {"sku": sku}
        if store:
            props["store"] = store
        if kind == "track":
            message["event"] = event
        else:
            message["name"] = "Prodotto"
        message["properties"] = props
        response = self.client.post(
            "/v1/batch", json={"batch": [message]}, headers=basic(self.keys[source])
        )
        assert response.status_code == 200, response.text

    def identify(self, source: str, anonymous_id: str, email: str, at: datetime) -> None:
        message = {
            "type": "identify",
            "anonymousId": anonymous_id,
            "traits": {"email": email},
            "timestamp": at.isoformat(),
        }
        response = self.client.post(
            "/v1/batch", json={"batch": [message]}, headers=basic(self.keys[source])
        )
        assert response.status_code == 200, response.text

    def buy(
        self,
        email: str | None,
        at: datetime,
        *,
        channel: str = "store",
        fulfilment: str | None = None,
        store: str | None = "MI-BRERA",
        skus: tuple[str, ...] = ("BIKE-HELM-M-BLU",),
    ) -> str:
        self.orders += 1
        body: dict[str, Any] = {
            "external_id": f"O-{self.orders}",
            "channel": channel,
            "placed_at": at.isoformat(),
            "lines": [{"sku": s, "quantity": 1, "unit_price": "10.00"} for s in skus],
        }
        if fulfilment:
            body["fulfilment"] = fulfilment
        if store:
            body["store"] = store
        if email:
            body["customer"] = {"identifiers": [{"kind": "email", "value": email}]}
        response = self.client.post(
            "/api/v1/orders", json=body, headers=self.principals.owner.headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def run_jobs(self) -> None:
        Worker(self.session_factory, clock=self.clock).run_until_idle()

    def journeys(self) -> set[tuple[str, str, str]]:
        """(kind, order external id, sku) of every stored journey."""
        from phygital.commerce.models import Order

        with self.session_factory() as session:
            rows = session.execute(
                select(Journey.kind, Order.external_id, Journey.sku).join(
                    Order, Order.id == Journey.order_id
                )
            )
            return {(str(k), e, s) for k, e, s in rows}

    def rows(self) -> list[Journey]:
        with self.session_factory() as session:
            rows = list(session.scalars(select(Journey).order_by(Journey.id)))
            session.expunge_all()
            return rows


@pytest.fixture
def world(
    client: TestClient,
    principals: Principals,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    request: pytest.FixtureRequest,
) -> World:
    request.getfixturevalue("shop")
    with transaction(session_factory) as session:
        web = tracking_service.create_source(session, name="web", channel=Channel.WEB)
        till = tracking_service.create_source(session, name="till", channel=Channel.STORE)
        keys = {"web": web.write_key, "till": till.write_key}
    return World(client, principals, keys, session_factory, clock)


@pytest.fixture
def at() -> Callable[[float], datetime]:
    """A time `days` before the test clock's now."""
    return lambda days: START - timedelta(days=days)
