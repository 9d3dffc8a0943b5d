"""Company-wide values kept in the database (`app_settings`)."""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from phygital.core.models import AppSetting

SECRET_KEY = "secret_key"  # noqa: S105 - the name of the setting, not a secret
COMPANY_NAME = "company_name"


def get_value(session: Session, key: str) -> str | None:
    row = session.get(AppSetting, key)
    return row.value if row else None


def set_value(session: Session, key: str, value: str) -> None:
    row = session.get(AppSetting, key)
    if row is None:
        session.add(AppSetting(key=key, value=value))
    else:
        row.value = value
    session.flush()


def get_or_create_secret_key(session: Session) -> str:
    """The signing key generated on first start, shared by every process of the deployment."""
    existing = get_value(session, SECRET_KEY)
    if existing:
        return existing
    key = secrets.token_urlsafe(48)
    try:
        with session.begin_nested():
            session.add(AppSetting(key=SECRET_KEY, value=key))
    except IntegrityError:  # another process generated it first: use theirs
        value = get_value(session, SECRET_KEY)
        assert value is not None
        return value
    return key
