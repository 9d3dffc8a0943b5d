"""GDPR access and erasure (contract, section 4): the export holds everything about the person;
after DELETE nothing personal is left — not in any row, and on SQLite not even in the bytes of
the database file and its write-ahead log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from phygital.db import Base, transaction
from phygital.identity.models import IdentityConflict, Profile
from phygital.privacy.models import AuditEntry
from phygital.tracking import service as tracking_service
from phygital.tracking.models import Channel, Event
from tests.conftest import START, Principals
from tests.identity.conftest import basic

API = "/api/v1/customers"

# Distinctive on purpose: found anywhere, it can only be this person's.
NAME_FIRST = "Ottavinella"
NAME_LAST = "Quintabarberi"
EMAIL = "ottavinella.quintabarberi@example.it"
OLD_EMAIL = "otta.qb.1987@example.it"
PHONE_WRITTEN = "347 555 0199"
PHONE = "+393475550199"
USER_ID = "cust-ottavinella-7781"
CARD = "LC-OTTA-4410"
SECRETS = [
    NAME_FIRST,
    NAME_LAST,
    EMAIL,
    OLD_EMAIL,
    PHONE,
    "3475550199",
    PHONE_WRITTEN,
    USER_ID,
    CARD,
]


@pytest.fixture
def keys(session_factory: sessionmaker[Session]) -> dict[str, str]:
    with transaction(session_factory) as session:
        web = tracking_service.create_source(session, name="web", channel=Channel.WEB)
        till = tracking_service.create_source(session, name="till", channel=Channel.STORE)
        return {"web": web.write_key, "store": till.write_key}


def send(client: TestClient, key: str, *messages: dict[str, Any]) -> None:
    response = client.post("/v1/batch", json={"batch": list(messages)}, headers=basic(key))
    assert response.status_code == 200, response.text


@pytest.fixture
def person(
    client: TestClient, principals: Principals, keys: dict[str, str], clock: Any
) -> Iterator[str]:
    """Ottavinella as four profiles merged into one customer (an anonymous visit aliased to her
    account, an in-store identify, a customer created by a clerk and merged by a manager), with
    events whose properties name her, consents from the site and from the API, and a conflict:
    a clerk typed her e-mail on somebody else's card. Also Marco, who must survive intact."""
    t = START - timedelta(days=5)
    owner = principals.owner.headers
    send(
        client,
        keys["web"],
        {
            "type": "page",
            "anonymousId": "dev-ottavinella",
            "name": "Wishlist",
            "properties": {"title": f"Wishlist di {NAME_FIRST} {NAME_LAST}", "path": "/wishlist"},
            "timestamp": t.isoformat(),
        },
        {
            "type": "track",
            "anonymousId": "dev-ottavinella",
            "event": "Newsletter Signup",
            "properties": {"greeting": f"Ciao {NAME_FIRST}!"},
            "context": {"consent": {"marketing": {"email": True}, "wording": "Sì, newsletter"}},
            "timestamp": (t + timedelta(minutes=1)).isoformat(),
        },
    )
    clock.advance(timedelta(minutes=1))
    send(
        client,
        keys["web"],
        {
            "type": "identify",
            "userId": USER_ID,
            "traits": {"email": EMAIL, "first_name": NAME_FIRST, "last_name": NAME_LAST},
            "timestamp": (t + timedelta(days=1)).isoformat(),
        },
    )
    send(
        client,
        keys["web"],
        {"type": "alias", "previousId": "dev-ottavinella", "userId": USER_ID},
    )
    clock.advance(timedelta(minutes=1))
    send(
        client,
        keys["store"],
        {
            "type": "identify",
            "anonymousId": "till-7",
            "traits": {"phone": PHONE_WRITTEN, "loyalty_card": CARD, "name": f"{NAME_FIRST} Q."},
            "timestamp": (t + timedelta(days=2)).isoformat(),
        },
        {
            "type": "track",
            "anonymousId": "till-7",
            "event": "Product Tried",
            "properties": {"sku": "HELM-1", "note": f"{NAME_FIRST} prova il casco"},
            "context": {"traits": {"phone": PHONE_WRITTEN}},
            "timestamp": (t + timedelta(days=2, minutes=5)).isoformat(),
        },
    )
    clock.advance(timedelta(minutes=1))
    clerk = client.post(
        API,
        json={
            "traits": {"last_name": NAME_LAST, "note": f"cliente storica, {NAME_FIRST}"},
            "identifiers": [{"kind": "email", "value": OLD_EMAIL}],
        },
        headers=principals.seller_a.headers,
    ).json()
    account = client.get(API, params={"user_id": USER_ID}, headers=owner).json()["items"][0]
    till = client.get(API, params={"phone": PHONE_WRITTEN}, headers=owner).json()["items"][0]
    for other in (till["id"], clerk["id"]):
        merged = client.post(
            f"{API}/{account['id']}/merge", json={"other_id": other}, headers=owner
        )
        assert merged.status_code == 200, merged.text
    assert (
        client.put(
            f"{API}/{clerk['id']}/consents",
            json={
                "consents": [
                    {
                        "purpose": "service",
                        "channel": "sms",
                        "granted": True,
                        "wording": f"Firmato da {NAME_FIRST} {NAME_LAST}",
                    }
                ]
            },
            headers=owner,
        ).status_code
        == 200
    )

    marco = client.post(
        API,
        json={
            "traits": {"name": "Marco Neri"},
            "identifiers": [{"kind": "user_id", "value": "cust-marco"}],
        },
        headers=owner,
    ).json()
    # A clerk typed her e-mail on Marco's card: kept apart, recorded as a conflict.
    wrong = client.post(
        API,
        json={
            "identifiers": [
                {"kind": "user_id", "value": "cust-marco"},
                {"kind": "email", "value": EMAIL},
            ]
        },
        headers=owner,
    )
    assert wrong.json()["id"] == marco["id"]
    send(client, keys["web"], {"type": "track", "userId": "cust-marco", "event": "Viewed"})
    yield account["id"]


def test_export_returns_everything_held_about_the_person(
    client: TestClient, principals: Principals, person: str, session_factory: sessionmaker[Session]
) -> None:
    response = client.get(f"{API}/{person}/export", headers=principals.manager.headers)
    assert response.status_code == 200
    data = response.json()
    assert data["customer_id"] == person
    assert set(data) >= {"identity", "events", "consents"}

    profiles = data["identity"]["profiles"]
    assert len(profiles) == 4
    traits = {k: v for p in profiles for k, v in p["traits"].items()}
    assert traits["first_name"] == NAME_FIRST and traits["last_name"] == NAME_LAST
    assert {(i["kind"], i["value"]) for i in data["identity"]["identifiers"]} == {
        ("user_id", USER_ID),
        ("email", EMAIL),
        ("email", OLD_EMAIL),
        ("phone", PHONE),
        ("loyalty_card", CARD),
        ("anonymous_id", "dev-ottavinella"),
        ("anonymous_id", "till-7"),
    }
    assert len(data["identity"]["merges"]) == 3
    # Her e-mail typed on Marco's card is about her too.
    [conflict] = data["identity"]["conflicts"]
    assert {"kind": "email", "value": EMAIL} in conflict["identifiers"]

    events = data["events"]
    assert sorted(e["type"] for e in events) == [
        "alias",
        "identify",
        "identify",
        "page",
        "track",
        "track",
    ]
    assert any(NAME_FIRST in str(e["properties"]) for e in events)
    assert all("cust-marco" not in str(e) for e in events)

    consents = {(c["purpose"], c["channel"], c["granted"]) for c in data["consents"]}
    assert consents == {("marketing", "email", True), ("service", "sms", True)}
    assert any(c["wording"] == "Sì, newsletter" for c in data["consents"])

    with session_factory() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).all()
    assert entry.subject == person and entry.actor


def test_export_of_a_merged_away_id_is_the_whole_customer(
    client: TestClient, principals: Principals, person: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        member = session.scalars(
            select(Profile.id).where(Profile.canonical_id == person, Profile.id != person)
        ).first()
    data = client.get(f"{API}/{member}/export", headers=principals.owner.headers).json()
    assert data["customer_id"] == person
    assert len(data["identity"]["profiles"]) == 4


def rows_holding(engine: Engine, needles: list[str]) -> list[tuple[str, str]]:
    """Every (table, needle) where some row, read as text, holds the needle."""
    found = []
    lowered = [n.lower() for n in needles]
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if engine.dialect.name == "postgresql":
                stmt = text(f'SELECT CAST(t AS text) FROM "{table.name}" AS t')
                rows = [r[0] for r in conn.execute(stmt)]
            else:
                rows = [repr(tuple(r)) for r in conn.execute(select(table))]
            for row in rows:
                for needle in lowered:
                    if needle in row.lower():
                        found.append((table.name, needle))
    return found


def files_holding(engine: Engine, needles: list[str]) -> list[tuple[str, str]]:
    path = Path(make_url(str(engine.url)).database or "")
    found = []
    for file in (path, path.with_name(path.name + "-wal")):
        if not file.exists():
            continue
        data = file.read_bytes().lower()
        for needle in needles:
            if needle.lower().encode() in data:
                found.append((file.name, needle))
    return found


def test_erasure_leaves_nothing_of_the_person(
    client: TestClient,
    principals: Principals,
    person: str,
    engine: Engine,
    db_kind: str,
    session_factory: sessionmaker[Session],
) -> None:
    assert rows_holding(engine, SECRETS)  # the checks can see her before
    if db_kind == "sqlite":
        assert files_holding(engine, SECRETS)
    with session_factory() as session:
        members = list(session.scalars(select(Profile.id).where(Profile.canonical_id == person)))
    assert len(members) == 4

    response = client.delete(f"{API}/{members[-1]}", headers=principals.manager.headers)
    assert response.status_code == 204
    assert response.content == b""

    for member in members:
        assert client.get(f"{API}/{member}", headers=principals.owner.headers).status_code == 404
    assert (
        client.get(API, params={"email": EMAIL}, headers=principals.owner.headers).json()["items"]
        == []
    )
    assert rows_holding(engine, SECRETS) == []
    if db_kind == "sqlite":
        assert files_holding(engine, SECRETS) == []

    # Marco is untouched, and the erasure is in the audit log without her data.
    marco = client.get(API, params={"user_id": "cust-marco"}, headers=principals.owner.headers)
    [item] = marco.json()["items"]
    assert item["name"] == "Marco Neri"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 1
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "erase")).all()
        assert session.scalar(select(func.count()).select_from(IdentityConflict)) == 0
    assert entry.subject == person


def test_erasing_an_unknown_customer_is_404(client: TestClient, principals: Principals) -> None:
    response = client.delete(f"{API}/{'0' * 32}", headers=principals.owner.headers)
    assert response.status_code == 404


def test_an_erased_person_coming_back_is_a_new_customer(
    client: TestClient, principals: Principals, person: str, keys: dict[str, str]
) -> None:
    assert client.delete(f"{API}/{person}", headers=principals.owner.headers).status_code == 204
    send(client, keys["web"], {"type": "identify", "userId": USER_ID, "traits": {"email": EMAIL}})
    [item] = client.get(API, params={"email": EMAIL}, headers=principals.owner.headers).json()[
        "items"
    ]
    assert item["id"] != person
    customer = client.get(f"{API}/{item['id']}", headers=principals.owner.headers).json()
    assert customer["stats"]["events"] == 1
    assert customer["consents"] == {}
