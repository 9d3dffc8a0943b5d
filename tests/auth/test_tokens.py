"""API tokens: roles, store scope, revocation, and never stored in clear."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from phygital.auth.models import ApiToken
from tests.conftest import Principals

NEW_STORE = {"code": "C", "name": "Store C", "timezone": "Europe/Rome"}


def test_request_without_token_is_401_with_a_bearer_challenge(client: TestClient) -> None:
    response = client.get("/api/v1/stores")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"]


def test_unknown_token_is_401(client: TestClient, principals: Principals) -> None:
    response = client.get("/api/v1/stores", headers={"Authorization": "Bearer phy_nope"})
    assert response.status_code == 401


def test_basic_auth_is_not_a_token(client: TestClient, principals: Principals) -> None:
    response = client.get("/api/v1/stores", auth=(principals.owner.token, ""))
    assert response.status_code == 401


def test_revoked_token_is_401(client: TestClient, principals: Principals) -> None:
    response = client.get("/api/v1/stores", headers=principals.outsider.headers)
    assert response.status_code == 401


def test_only_admin_creates_stores(client: TestClient, principals: Principals) -> None:
    for who in (principals.manager, principals.seller_a):
        assert client.post("/api/v1/stores", json=NEW_STORE, headers=who.headers).status_code == 403
    response = client.post("/api/v1/stores", json=NEW_STORE, headers=principals.owner.headers)
    assert response.status_code == 201
    assert response.json()["code"] == "C"


def test_seller_sees_only_their_store(client: TestClient, principals: Principals) -> None:
    response = client.get("/api/v1/stores", headers=principals.seller_a.headers)
    assert [s["code"] for s in response.json()["items"]] == ["A"]
    response = client.get("/api/v1/stores", headers=principals.seller_b.headers)
    assert [s["code"] for s in response.json()["items"]] == ["B"]


def test_company_wide_principals_see_every_store(
    client: TestClient, principals: Principals
) -> None:
    for who in (principals.owner, principals.manager):
        response = client.get("/api/v1/stores", headers=who.headers)
        assert [s["code"] for s in response.json()["items"]] == ["A", "B"]
        assert response.json()["next"] is None


def test_token_is_stored_only_as_a_hash(db: Session, principals: Principals) -> None:
    rows = db.scalars(select(ApiToken)).all()
    secrets = {p.token for p in (principals.owner, principals.seller_a, principals.seller_b)}
    for row in rows:
        assert row.token_hash not in secrets
        assert len(row.token_hash) == 64
        assert all(secret not in (row.prefix, row.name) for secret in secrets)


def test_token_use_is_recorded(client: TestClient, db: Session, principals: Principals) -> None:
    client.get("/api/v1/stores", headers=principals.owner.headers)
    db.expire_all()
    used = db.scalars(select(ApiToken).where(ApiToken.last_used_at.is_not(None))).all()
    assert [t.name for t in used] == ["owner token"]
