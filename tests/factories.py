"""Test data built through the product's own services."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy.orm import Session

from phygital.auth import service as auth_service
from phygital.auth.models import Role, User
from phygital.commerce import service as commerce_service
from phygital.commerce.models import Store
from phygital.commerce.schemas import StoreCreate
from phygital.core.security import hash_password

PASSWORD = "correct horse battery staple"


@lru_cache(maxsize=1)
def password_hash() -> str:
    """PASSWORD's argon2 hash, computed once: hashing is slow on purpose."""
    return hash_password(PASSWORD)


def make_store(session: Session, code: str, name: str | None = None) -> Store:
    return commerce_service.create_store(
        session,
        data=StoreCreate(
            code=code,
            name=name or f"Store {code}",
            opening_hours={"mon": [("09:00", "13:00"), ("15:00", "19:00")]},
        ),
    )


@dataclass
class TestPrincipal:
    """A standard person for permission tests: a web login and an API token with the same role."""

    __test__ = False

    key: str
    email: str
    role: Role
    store_code: str | None
    token: str
    password: str = PASSWORD
    user_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def make_principal(
    session: Session,
    key: str,
    role: Role,
    store_code: str | None = None,
    *,
    active: bool = True,
) -> TestPrincipal:
    email = f"{key}@example.com"
    user: User = auth_service.create_user(
        session,
        email=email,
        name=key.replace("_", " ").title(),
        role=role,
        store_code=store_code,
    )
    user.password_hash = password_hash()
    user.active = active
    _, secret = auth_service.create_token(
        session, name=f"{key} token", role=role, store_code=store_code
    )
    return TestPrincipal(
        key=key,
        email=email,
        role=role,
        store_code=store_code,
        token=secret,
        user_id=user.id,
        headers={"Authorization": f"Bearer {secret}"},
    )
