"""The `phygital` command: happy paths, one-line errors, secrets alone on stdout."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from phygital.auth.models import ApiToken, User
from phygital.core.security import token_digest, verify_password
from tests.cli.conftest import one_error_line as _one_error_line
from tests.factories import make_store


def test_token_create_prints_only_the_token(cli, db: Session) -> None:  # type: ignore[no-untyped-def]
    result = cli("token", "create", "shop-sync", "--role", "manager")
    assert result.code == 0, result.stderr
    assert result.stdout.count("\n") == 1
    secret = result.stdout.strip()
    assert secret.startswith("phy_") and len(secret) > 40
    token = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(secret)))
    assert token is not None and token.role == "manager" and token.store_id is None


def test_token_create_with_a_store_scope(cli, db: Session) -> None:  # type: ignore[no-untyped-def]
    store = make_store(db, "MI")
    db.commit()
    result = cli("token", "create", "till", "--role", "seller", "--store", "MI")
    assert result.code == 0
    token = db.scalar(select(ApiToken).where(ApiToken.name == "till"))
    assert token is not None and token.store_id == store.id


def test_token_create_refuses_a_bad_role(cli) -> None:  # type: ignore[no-untyped-def]
    line = _one_error_line(cli("token", "create", "x", "--role", "boss"))
    assert "--role" in line and "boss" in line
    assert cli("token", "create", "x", "--role", "boss").stdout == ""


def test_token_create_refuses_an_unknown_store(cli) -> None:  # type: ignore[no-untyped-def]
    line = _one_error_line(cli("token", "create", "x", "--role", "seller", "--store", "ZZ"))
    assert "ZZ" in line


def test_missing_arguments_are_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    line = _one_error_line(cli("token", "create", "--role", "admin"))
    assert "Missing argument" in line
    line = _one_error_line(cli("user", "create", "a@example.com"))
    assert "--role" in line


def test_user_create_reads_the_password_from_stdin(cli, db: Session) -> None:  # type: ignore[no-untyped-def]
    make_store(db, "TO")
    db.commit()
    result = cli(
        "user",
        "create",
        "Marco@Example.com",
        "--role",
        "seller",
        "--store",
        "TO",
        "--password-stdin",
        stdin="a long enough secret\n",
    )
    assert result.code == 0, result.stderr
    assert result.stdout == ""
    user = db.scalar(select(User).where(User.email == "marco@example.com"))
    assert user is not None and user.role == "seller"
    assert user.password_hash and verify_password(user.password_hash, "a long enough secret")


def test_user_create_without_stdin_prints_a_generated_password(cli, db: Session) -> None:  # type: ignore[no-untyped-def]
    result = cli("user", "create", "owner@example.com", "--role", "admin")
    assert result.code == 0
    password = result.stdout.strip()
    assert len(password) >= 12 and result.stdout.count("\n") == 1
    user = db.scalar(select(User).where(User.email == "owner@example.com"))
    assert user is not None and user.password_hash
    assert verify_password(user.password_hash, password)


def test_user_create_errors(cli) -> None:  # type: ignore[no-untyped-def]
    assert "e-mail" in _one_error_line(cli("user", "create", "not-an-email", "--role", "admin"))
    assert "password" in _one_error_line(
        cli(
            "user",
            "create",
            "a@example.com",
            "--role",
            "admin",
            "--password-stdin",
            stdin="short\n",
        )
    )
    assert "no password" in _one_error_line(
        cli("user", "create", "a@example.com", "--role", "admin", "--password-stdin", stdin="")
    )
    cli("user", "create", "dup@example.com", "--role", "admin")
    assert "already exists" in _one_error_line(
        cli("user", "create", "dup@example.com", "--role", "seller")
    )


def test_demo_creates_the_company_and_says_how_to_log_in(cli, db: Session) -> None:  # type: ignore[no-untyped-def]
    result = cli("demo", "--password", "demo-password-123")
    assert result.code == 0, result.stderr
    assert "titolare@velo.example" in result.stdout
    assert "demo-password-123" in result.stdout
    assert "phygital serve" in result.stdout
    emails = set(db.scalars(select(User.email)))
    assert emails == {"titolare@velo.example", "giulia@velo.example", "marco@velo.example"}


def test_demo_refuses_a_database_that_is_not_empty(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("demo", "--customers", "0").code == 0
    assert "not empty" in _one_error_line(cli("demo"))


def test_unreachable_database_is_one_line(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PHYGITAL_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    for args in (("token", "create", "x", "--role", "admin"), ("demo",), ("worker", "--once")):
        line = _one_error_line(cli(*args))
        assert "cannot reach the database" in line


def test_invalid_configuration_is_one_line(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PHYGITAL_TIMEZONE", "Nowhere/Land")
    assert "PHYGITAL_TIMEZONE" in _one_error_line(cli("token", "create", "x", "--role", "admin"))


def test_worker_once_runs_and_exits(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("worker", "--once").code == 0


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("serve",),
        ("worker",),
        ("demo",),
        ("token",),
        ("token", "create"),
        ("user",),
        ("user", "create"),
    ],
)
def test_every_command_has_help(cli, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    result = cli(*args, "--help")
    assert result.code == 0
    assert "Usage: phygital" in result.stdout


def test_the_installed_command_works_on_a_fresh_directory(tmp_path: Path) -> None:
    """`phygital` with no configuration creates phygital.db in the working directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHYGITAL_")}
    done = subprocess.run(
        ["phygital", "token", "create", "first", "--role", "admin"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("phy_") and done.stdout.count("\n") == 1
    assert (tmp_path / "phygital.db").exists()
    bad = subprocess.run(
        ["phygital", "user", "create", "x@example.com", "--role", "king"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1
