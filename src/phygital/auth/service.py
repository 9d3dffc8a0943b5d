"""Users, API tokens, password login with rate limiting, and the `Principal` every route gets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from phygital.auth.models import ApiToken, LoginAttempt, Role, User
from phygital.commerce.models import Store
from phygital.core import security
from phygital.core.clock import Clock
from phygital.core.errors import Conflict, Invalid, NotFound, TooManyAttempts, Unauthenticated

SUPPORTED_LOCALES = ("it", "en")


@dataclass(frozen=True)
class Principal:
    """Who is asking: a web user or an API token, with its role and optional store scope.

    `store_id` None means company-wide. Every query over store-owned data filters through
    `visible_store_id` so a seller of store A never sees store B.
    """

    kind: Literal["user", "token"]
    id: str
    name: str
    role: Role
    store_id: str | None = None
    store_code: str | None = None
    email: str | None = None
    locale: str | None = None

    def has_role(self, minimum: Role) -> bool:
        return self.role.rank >= minimum.rank

    def can_access_store(self, store_id: str | None) -> bool:
        return self.store_id is None or self.store_id == store_id

    @property
    def visible_store_id(self) -> str | None:
        """The only store this principal sees, or None for all stores."""
        return self.store_id


def normalise_email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise Invalid(f"not a valid e-mail address: {exc}", field="email") from None


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise Invalid(f"unknown role {value!r} (allowed: {allowed})", field="role") from None


def store_by_code(session: Session, code: str) -> Store:
    store = session.scalar(select(Store).where(Store.code == code))
    if store is None:
        raise NotFound(f"no store with code {code!r}", field="store")
    return store


def create_user(
    session: Session,
    *,
    email: str,
    role: Role,
    name: str = "",
    password: str | None = None,
    store_code: str | None = None,
    locale: str | None = None,
) -> User:
    """Create a web login. The password, when given, is stored only as an argon2id hash."""
    email = normalise_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with e-mail {email} already exists", field="email")
    if password is not None and len(password) < security.MIN_PASSWORD_LENGTH:
        raise Invalid(
            f"password must be at least {security.MIN_PASSWORD_LENGTH} characters",
            field="password",
        )
    if locale is not None and locale not in SUPPORTED_LOCALES:
        raise Invalid(f"unsupported language {locale!r}", field="locale")
    store = store_by_code(session, store_code) if store_code else None
    user = User(
        email=email,
        name=name or email.split("@")[0],
        role=role,
        store=store,
        password_hash=security.hash_password(password) if password else None,
        locale=locale,
        active=True,
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, *, user: User, password: str) -> None:
    if len(password) < security.MIN_PASSWORD_LENGTH:
        raise Invalid(
            f"password must be at least {security.MIN_PASSWORD_LENGTH} characters",
            field="password",
        )
    user.password_hash = security.hash_password(password)
    session.flush()


def user_principal(user: User) -> Principal:
    return Principal(
        kind="user",
        id=user.id,
        name=user.name,
        role=Role(user.role),
        store_id=user.store_id,
        store_code=user.store.code if user.store else None,
        email=user.email,
        locale=user.locale,
    )


def active_user(session: Session, user_id: str) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


def authenticate(
    session: Session,
    *,
    clock: Clock,
    email: str,
    password: str,
    ip: str,
    max_failures: int,
    window: timedelta,
) -> User:
    """Check an e-mail and password. Too many recent failures for the e-mail (or many more from
    the address) refuse further tries for the window, even with the right password."""
    email = email.strip().lower()
    now = clock.now()
    since = now - window
    failures_email = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.email == email, LoginAttempt.at > since)
    )
    failures_ip = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.ip == ip, LoginAttempt.at > since)
    )
    if (failures_email or 0) >= max_failures or (failures_ip or 0) >= max_failures * 4:
        raise TooManyAttempts("too many failed logins; try again later")

    user = session.scalar(select(User).where(User.email == email))
    ok = (
        user is not None
        and user.active
        and user.password_hash is not None
        and security.verify_password(user.password_hash, password)
    )
    if not ok or user is None:
        session.add(LoginAttempt(email=email, ip=ip, at=now))
        session.flush()
        raise Unauthenticated("wrong e-mail or password")
    assert user.password_hash is not None
    if security.password_needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
    user.last_login_at = now
    session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
    session.flush()
    return user


def prune_login_attempts(session: Session, *, clock: Clock, older_than: timedelta) -> int:
    result = session.execute(delete(LoginAttempt).where(LoginAttempt.at < clock.now() - older_than))
    return int(result.rowcount)  # type: ignore[attr-defined]


def create_token(
    session: Session, *, name: str, role: Role, store_code: str | None = None
) -> tuple[ApiToken, str]:
    """Create an API token; returns the row and the secret, which is never stored or shown again."""
    name = name.strip()
    if not name:
        raise Invalid("a token needs a name", field="name")
    store = store_by_code(session, store_code) if store_code else None
    secret = security.new_token()
    token = ApiToken(
        name=name,
        token_hash=security.token_digest(secret),
        prefix=secret[: len(security.TOKEN_PREFIX) + 6],
        role=role,
        store=store,
    )
    session.add(token)
    session.flush()
    return token, secret


# A token's last use is written at most once a minute: reads must not turn into a write each time.
TOKEN_USE_GRAIN = timedelta(minutes=1)


def token_principal(session: Session, *, clock: Clock, secret: str) -> tuple[Principal, bool]:
    """Who the bearer token is, and whether its use is due to be recorded (`record_token_use`;
    this function only reads)."""
    token = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == security.token_digest(secret))
    )
    if token is None or token.revoked_at is not None:
        raise Unauthenticated("invalid or revoked token")
    last = token.last_used_at
    use_due = last is None or clock.now() - last > TOKEN_USE_GRAIN
    return Principal(
        kind="token",
        id=token.id,
        name=token.name,
        role=Role(token.role),
        store_id=token.store_id,
        store_code=token.store.code if token.store else None,
    ), use_due


def record_token_use(session: Session, *, clock: Clock, token_id: str) -> None:
    """Note that the token was used now (unless a request just did, within the grain)."""
    now = clock.now()
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - TOKEN_USE_GRAIN),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def revoke_token(session: Session, *, clock: Clock, token_id: str) -> None:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token {token_id}")
    token.revoked_at = clock.now()


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc())))


def set_locale(session: Session, *, user_id: str, locale: str) -> None:
    if locale not in SUPPORTED_LOCALES:
        raise Invalid(f"unsupported language {locale!r}", field="locale")
    user = session.get(User, user_id)
    if user is not None:
        user.locale = locale


def find_users(session: Session, *, q: str | None = None) -> list[User]:
    stmt = select(User).order_by(User.email)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(func.lower(User.email).like(like), func.lower(User.name).like(like)))
    return list(session.scalars(stmt))
