"""Settings: the only reader of the environment.

Every variable of the public contract is a field here, read from `PHYGITAL_*` environment
variables or a `.env` file in the working directory. Secrets may also come from a file named by
`PHYGITAL_<NAME>_FILE` (Docker and systemd credentials). An invalid value stops start-up with a
one-line reason (`ConfigError`).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import phonenumbers
from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from phygital.core.clock import is_timezone

ENV_PREFIX = "PHYGITAL_"

# Values people paste from examples; a signing key must never be one of them.
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "changethis", "xxx", "test"})


class ConfigError(Exception):
    """A configuration value that prevents start-up; its message is one line for the operator."""


class FileSecretsSource(PydanticBaseSettingsSource):
    """Reads `PHYGITAL_<NAME>_FILE`: the value is the file's content without the final newline."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        var = f"{ENV_PREFIX}{field_name.upper()}_FILE"
        path = os.environ.get(var)
        if not path:
            return None, field_name, False
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\r\n"), field_name, False
        except OSError as exc:
            raise ConfigError(f"{var}: cannot read {path}: {exc.strerror}") from exc

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                values[key] = value
        return values


class Settings(BaseSettings):
    """Phygital's configuration (see the contract, section 1)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///./phygital.db"
    secret_key: str | None = Field(default=None, repr=False)
    default_region: str = "IT"
    timezone: str = "Europe/Rome"
    company_name: str | None = None

    whatsapp_verify_token: str | None = Field(default=None, repr=False)
    whatsapp_app_secret: str | None = Field(default=None, repr=False)
    whatsapp_access_token: str | None = Field(default=None, repr=False)
    whatsapp_phone_number_id: str | None = None
    whatsapp_api_base: str = "https://graph.facebook.com/v21.0"
    shopify_secret: str | None = Field(default=None, repr=False)
    woocommerce_secret: str | None = Field(default=None, repr=False)
    smtp_url: str | None = Field(default=None, repr=False)
    # Not in the contract's table, same style: the sender of e-mails to customers, and the store
    # (code) a WooCommerce pickup goes to when its shipping line names none.
    mail_from: str = "Phygital <no-reply@localhost>"
    woocommerce_pickup_store: str | None = None
    # Shopify POS locations as stores: `location_id=STORE_CODE` pairs, comma-separated.
    shopify_locations: str | None = None

    # Operations (not in the contract's table, same style).
    session_cookie_secure: bool = False
    session_max_age_days: int = Field(default=14, ge=1, le=365)
    login_max_failures: int = Field(default=5, ge=1, le=1000)
    login_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    job_lease_seconds: int = Field(default=300, ge=5, le=24 * 3600)
    job_max_attempts: int = Field(default=8, ge=1, le=100)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        assert isinstance(env_settings, EnvSettingsSource)
        return (init_settings, env_settings, FileSecretsSource(settings_cls), dotenv_settings)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError("not a database URL (e.g. sqlite:///./phygital.db)") from exc
        if url.get_backend_name() not in {"sqlite", "postgresql"}:
            raise ValueError("only sqlite:// and postgresql+psycopg:// are supported")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        from phygital.core.mail import parse_smtp_url

        try:
            parse_smtp_url(value)  # says what is wrong, never the password
        except ValueError as exc:
            raise ValueError(str(exc).removeprefix("PHYGITAL_SMTP_URL ")) from None
        return value

    @field_validator("secret_key")
    @classmethod
    def _check_secret_key(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value.lower() in PLACEHOLDER_SECRETS or len(value) < 32:
            raise ValueError("must be at least 32 random characters, not a placeholder")
        return value

    @field_validator("default_region")
    @classmethod
    def _check_region(cls, value: str) -> str:
        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("not a region code known to libphonenumber (e.g. IT, DE, US)")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        if not is_timezone(value):
            raise ValueError("not an IANA time zone (e.g. Europe/Rome)")
        return value

    @field_validator("shopify_locations")
    @classmethod
    def _check_shopify_locations(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        parse_locations(value)
        return value

    @property
    def shopify_location_stores(self) -> dict[str, str]:
        """Store codes by Shopify location id (empty when none are configured)."""
        return parse_locations(self.shopify_locations) if self.shopify_locations else {}

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.database_url).get_backend_name() == "sqlite"


def parse_locations(value: str) -> dict[str, str]:
    """`80123=MI-BRERA, 80124=TO-CENTRO` as `{"80123": "MI-BRERA", …}`; `ValueError` says which
    pair is wrong."""
    pairs: dict[str, str] = {}
    for item in value.split(","):
        if not item.strip():
            continue  # a trailing comma
        location, sep, code = (part.strip() for part in item.partition("="))
        if not sep or not location.isdigit() or not code:
            raise ValueError(
                f"{item.strip()!r} is not location_id=STORE_CODE (e.g. 80123456=MI-BRERA)"
            )
        if location in pairs:
            raise ValueError(f"location {location} is mapped twice")
        pairs[location] = code
    return pairs


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning any validation error into a one-line `ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        msg = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{ENV_PREFIX}{field.upper()}: {msg}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own with `load_settings`)."""
    return load_settings()
