"""Web login: argon2 passwords, signed HttpOnly cookies, CSRF on every form, rate limiting."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from phygital.auth.models import User
from phygital.core.clock import FrozenClock
from tests.conftest import Principals, csrf_from, login
from tests.factories import PASSWORD


def _post_login(client: TestClient, email: str, password: str, **extra: str):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get("/login").text)
    data = {"email": email, "password": password, "csrf_token": token, **extra}
    return client.post("/login", data=data, follow_redirects=False)


def test_login_sets_a_signed_httponly_samesite_cookie(
    client: TestClient, principals: Principals
) -> None:
    response = _post_login(client, principals.owner.email, PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "phygital_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    home = client.get("/")
    assert home.status_code == 200
    assert "Owner" in home.text


def test_login_follows_next_only_within_the_site(
    client: TestClient, principals: Principals
) -> None:
    ok = _post_login(client, principals.owner.email, PASSWORD, next="/?tab=today")
    assert ok.headers["location"] == "/?tab=today"
    client.cookies.clear()
    for evil in ("//evil.example.com/", "https://evil.example.com/", "javascript:alert(1)"):
        response = _post_login(client, principals.owner.email, PASSWORD, next=evil)
        assert response.headers["location"] == "/"
        client.cookies.clear()


def test_wrong_password_is_refused_without_a_session(
    client: TestClient, principals: Principals
) -> None:
    response = _post_login(client, principals.owner.email, "wrong password!")
    assert response.status_code == 401
    assert "E-mail o password errate." in response.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_deactivated_user_cannot_log_in(client: TestClient, principals: Principals) -> None:
    response = _post_login(client, principals.outsider.email, PASSWORD)
    assert response.status_code == 401


def test_pages_redirect_to_login_and_back(client: TestClient, principals: Principals) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2F"


def test_logout_ends_the_session(client: TestClient, principals: Principals) -> None:
    login(client, principals.seller_a)
    token = csrf_from(client.get("/").text)
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).status_code == 303


def test_forms_without_the_csrf_token_are_refused(
    client: TestClient, principals: Principals
) -> None:
    client.get("/login")
    no_token = client.post(
        "/login",
        data={"email": principals.owner.email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert no_token.status_code == 403
    wrong = client.post(
        "/login",
        data={"email": principals.owner.email, "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert wrong.status_code == 403
    login(client, principals.owner)
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200  # still logged in


def test_csrf_token_from_another_session_is_refused(
    app,
    client: TestClient,
    principals: Principals,  # type: ignore[no-untyped-def]
) -> None:
    other = TestClient(app)
    foreign_token = csrf_from(other.get("/login").text)
    client.get("/login")
    response = client.post(
        "/login",
        data={"email": principals.owner.email, "password": PASSWORD, "csrf_token": foreign_token},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_too_many_failures_lock_the_account_for_the_window(
    client: TestClient, principals: Principals, clock: FrozenClock
) -> None:
    for _ in range(5):
        assert _post_login(client, principals.manager.email, "bad password!").status_code == 401
    locked = _post_login(client, principals.manager.email, PASSWORD)
    assert locked.status_code == 429
    assert "Troppi tentativi" in locked.text
    # Another account is not affected by this one's failures.
    assert _post_login(client, principals.owner.email, PASSWORD).status_code == 303
    clock.advance(timedelta(minutes=16))
    client.cookies.clear()
    assert _post_login(client, principals.manager.email, PASSWORD).status_code == 303


def test_successful_login_clears_earlier_failures(
    client: TestClient, principals: Principals
) -> None:
    for _ in range(4):
        _post_login(client, principals.manager.email, "bad password!")
    assert _post_login(client, principals.manager.email, PASSWORD).status_code == 303
    client.cookies.clear()
    for _ in range(4):
        assert _post_login(client, principals.manager.email, "bad password!").status_code == 401
    assert _post_login(client, principals.manager.email, PASSWORD).status_code == 303


def test_passwords_are_argon2_hashes_never_clear_text(
    db: Session, principals: Principals, db_url: str
) -> None:
    hashes = db.scalars(select(User.password_hash)).all()
    assert hashes and all(h and h.startswith("$argon2id$") for h in hashes)
    assert all(PASSWORD not in (h or "") for h in hashes)
    if db_url.startswith("sqlite"):
        db.commit()
        path = make_url(db_url).database
        assert path
        for suffix in ("", "-wal"):
            file = Path(path + suffix)
            if file.exists():
                assert PASSWORD.encode() not in file.read_bytes()
