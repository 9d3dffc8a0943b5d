"""Settings: contract variables, .env, *_FILE secrets, one-line refusals, generated secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from phygital.config import ConfigError, load_settings
from phygital.core.models import AppSetting
from phygital.main import create_app


def test_defaults_need_no_configuration(tmp_cwd: Path) -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///./phygital.db"
    assert settings.default_region == "IT"
    assert settings.timezone == "Europe/Rome"
    assert settings.secret_key is None
    assert settings.is_sqlite


def test_environment_and_dotenv_are_read(tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_cwd / ".env").write_text("PHYGITAL_TIMEZONE=Europe/Berlin\nPHYGITAL_DEFAULT_REGION=de\n")
    monkeypatch.setenv("PHYGITAL_TIMEZONE", "Europe/London")
    settings = load_settings()
    assert settings.timezone == "Europe/London"  # the environment wins over .env
    assert settings.default_region == "DE"


def test_secret_can_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "shopify"
    secret_file.write_text("from-a-file-secret\n")
    monkeypatch.setenv("PHYGITAL_SHOPIFY_SECRET_FILE", str(secret_file))
    assert load_settings().shopify_secret == "from-a-file-secret"


def test_unreadable_secret_file_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHYGITAL_SECRET_KEY_FILE", "/nonexistent/secret")
    with pytest.raises(ConfigError, match=r"^PHYGITAL_SECRET_KEY_FILE: cannot read"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PHYGITAL_TIMEZONE", "Mars/Olympus", "PHYGITAL_TIMEZONE: not an IANA time zone"),
        ("PHYGITAL_DEFAULT_REGION", "XX", "PHYGITAL_DEFAULT_REGION: not a region code"),
        ("PHYGITAL_DATABASE_URL", "mysql://x@y/z", "PHYGITAL_DATABASE_URL: only sqlite"),
        ("PHYGITAL_DATABASE_URL", "not a url", "PHYGITAL_DATABASE_URL: not a database URL"),
        ("PHYGITAL_SECRET_KEY", "changeme", "PHYGITAL_SECRET_KEY: must be at least 32"),
        ("PHYGITAL_LOGIN_MAX_FAILURES", "zero", "PHYGITAL_LOGIN_MAX_FAILURES:"),
        ("PHYGITAL_SHOPIFY_LOCATIONS", "801=MI, TO", "PHYGITAL_SHOPIFY_LOCATIONS: 'TO' is not"),
        ("PHYGITAL_SHOPIFY_LOCATIONS", "801=MI,801=TO", "PHYGITAL_SHOPIFY_LOCATIONS: location 801"),
    ],
)
def test_invalid_values_stop_with_a_one_line_reason(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_secret_key_is_generated_once_and_kept(engine, db_url: str, db) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(database_url=db_url, _env_file=None)
    first = create_app(settings, engine=engine)
    second = create_app(settings, engine=engine)
    stored = db.scalar(select(AppSetting.value).where(AppSetting.key == "secret_key"))
    assert stored and len(stored) >= 32
    for app in (first, second):
        session_mw = next(m for m in app.user_middleware if m.cls.__name__ == "SessionMiddleware")
        assert session_mw.kwargs["secret_key"] == stored


def test_shopify_locations_read_as_pairs_a_trailing_comma_allowed(tmp_cwd: Path) -> None:
    settings = load_settings(shopify_locations="801=MI-BRERA, 802 = TO-CENTRO,")
    assert settings.shopify_location_stores == {"801": "MI-BRERA", "802": "TO-CENTRO"}
    assert load_settings().shopify_location_stores == {}
