"""Tracking fixtures: sources with known write keys and a look at what was stored."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from phygital.db import transaction
from phygital.identity import service as identity_service
from phygital.identity.models import Identifier, Profile
from phygital.identity.service import Customer
from phygital.privacy.models import ConsentEntry
from phygital.tracking import service
from phygital.tracking.models import Channel, Event, Source

WEB_KEY = "wk_test_website"
STORE_KEY = "wk_test_till"


def basic(write_key: str) -> dict[str, str]:
    """HTTP Basic as the Segment clients send it: the write key as user name, no password."""
    return {"Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()}


@dataclass(frozen=True)
class Counts:
    events: int
    profiles: int
    identifiers: int
    consents: int
    source_events: int


@dataclass
class Stored:
    """Reads what the app committed, each time in a fresh session (never holding a lock)."""

    factory: sessionmaker[Session]

    def events(self) -> list[Event]:
        with self.factory() as session:
            return list(session.scalars(select(Event).order_by(Event.id)))

    def source(self, source_id: str) -> Source:
        with self.factory() as session:
            source = session.get(Source, source_id)
            assert source is not None
            return source

    def customer(self, profile_id: str) -> Customer:
        with self.factory() as session:
            return identity_service.get_customer(session, profile_id)

    def counts(self) -> Counts:
        with self.factory() as session:

            def count(model: type) -> int:
                return session.scalar(select(func.count()).select_from(model)) or 0

            return Counts(
                events=count(Event),
                profiles=count(Profile),
                identifiers=count(Identifier),
                consents=count(ConsentEntry),
                source_events=session.scalar(
                    select(func.coalesce(func.sum(Source.events_count), 0))
                )
                or 0,
            )


@pytest.fixture
def stored(session_factory: sessionmaker[Session]) -> Stored:
    return Stored(session_factory)


def make_source(
    factory: sessionmaker[Session], name: str, channel: Channel, write_key: str | None = None
) -> Source:
    with transaction(factory) as session:
        source = service.create_source(session, name=name, channel=channel)
        if write_key is not None:
            source.write_key = write_key
    return source


@pytest.fixture
def web_source(session_factory: sessionmaker[Session]) -> Source:
    """The web shop's source, with the write key of the Segment fixture."""
    return make_source(session_factory, "Web shop", Channel.WEB, WEB_KEY)


@pytest.fixture
def store_source(session_factory: sessionmaker[Session]) -> Source:
    return make_source(session_factory, "Tills", Channel.STORE, STORE_KEY)
