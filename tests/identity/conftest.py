"""Identity test helpers: observations written as `kind:value` refs, resolution in its own unit
of work, the customers as sets of identifier keys, and a tracking source to post events to."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from phygital.core.clock import FrozenClock
from phygital.db import transaction
from phygital.identity import identifiers as ids
from phygital.identity.identifiers import Ident
from phygital.identity.models import Profile
from phygital.identity.resolution import Observation, Resolution, resolve_many
from phygital.identity.service import Customer, load_customers
from phygital.tracking import service as tracking_service
from phygital.tracking.models import Channel
from tests.conftest import START

REGION = "IT"


def ident(ref: str) -> Ident:
    return ids.parse_ref(ref, region=REGION)


def observe(
    *refs: str,
    at: datetime = START,
    traits: dict[str, Any] | None = None,
    channel: str | None = "web",
    cause: str = "event",
) -> Observation:
    return Observation(
        identifiers=[ident(r) for r in refs],
        at=at,
        traits=traits or {},
        channel=channel,
        cause=cause,
    )


def customers(factory: sessionmaker[Session]) -> list[Customer]:
    with factory() as session:
        roots = list(session.scalars(select(Profile.id).where(Profile.id == Profile.canonical_id)))
        return list(load_customers(session, roots).values())


def partition(factory: sessionmaker[Session]) -> set[frozenset[str]]:
    """The customers as sets of `kind:value` keys."""
    return {frozenset(i.key for i in c.identifiers) for c in customers(factory)}


def customer_of(factory: sessionmaker[Session], ref: str) -> Customer:
    key = ident(ref).key
    found = [c for c in customers(factory) if key in {i.key for i in c.identifiers}]
    assert len(found) == 1, f"{ref} belongs to {len(found)} customers"
    return found[0]


def basic(write_key: str) -> dict[str, str]:
    """HTTP Basic as Segment clients send it: the write key as user name, no password."""
    return {"Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()}


@dataclass
class Identity:
    """Resolution driven directly (fast) or through the tracking API (end to end)."""

    factory: sessionmaker[Session]
    clock: FrozenClock
    client: TestClient | None = None
    write_keys: dict[str, str] | None = None

    def resolve(
        self, *observations: Observation, limits: dict[str, int] | None = None
    ) -> list[Resolution | None]:
        with transaction(self.factory) as session:
            return resolve_many(
                session, clock=self.clock, observations=list(observations), limits=limits
            )

    def send(self, *messages: dict[str, Any], source: str = "web") -> None:
        assert self.client is not None and self.write_keys is not None
        response = self.client.post(
            "/v1/batch", json={"batch": list(messages)}, headers=basic(self.write_keys[source])
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"success": True}

    def partition(self) -> set[frozenset[str]]:
        return partition(self.factory)

    def customers(self) -> list[Customer]:
        return customers(self.factory)

    def customer_of(self, ref: str) -> Customer:
        return customer_of(self.factory, ref)


@pytest.fixture
def identity(session_factory: sessionmaker[Session], clock: FrozenClock) -> Identity:
    return Identity(session_factory, clock)


@pytest.fixture
def tracked(
    session_factory: sessionmaker[Session], clock: FrozenClock, client: TestClient
) -> Identity:
    """Identity fed through POST /v1/batch, with a web source and a store (till) source."""
    keys = {}
    with transaction(session_factory) as session:
        for name, channel in (("web", Channel.WEB), ("store", Channel.STORE)):
            source = tracking_service.create_source(session, name=name, channel=channel)
            keys[name] = source.write_key
    return Identity(session_factory, clock, client, keys)


def keys(*refs: str) -> frozenset[str]:
    return frozenset(ident(r).key for r in refs)


def all_keys(groups: Iterable[Iterable[str]]) -> set[frozenset[str]]:
    return {keys(*g) for g in groups}
