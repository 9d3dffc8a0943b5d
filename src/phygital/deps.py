"""Dependencies that make route signatures read like sentences.

`SessionDep` is the request's unit of work: it commits after the route returns and before the
response is sent, so every acknowledged write is durable; it rolls back when the route raises.
A GET or HEAD request's unit of work is read-only (`db.read_only`): it never waits for a writer.
`ApiPrincipal` (bearer token) and `WebUser` (session cookie) say who is asking; `require(...)`
adds a minimum role. Store scope travels on the principal (`Principal.visible_store_id`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import BackgroundTasks, Depends, Form, Request
from sqlalchemy.orm import Session, sessionmaker

from phygital.auth import service as auth_service
from phygital.auth.models import Role
from phygital.auth.service import Principal
from phygital.config import Settings
from phygital.core.clock import Clock
from phygital.core.errors import Invalid, PermissionDenied, Unauthenticated
from phygital.core.security import constant_time_equals
from phygital.db import is_read_only, transaction

CSRF_SESSION_KEY = "csrf"
USER_SESSION_KEY = "uid"


READS = ("GET", "HEAD")
_WRITES_ATTR = "phygital_writes"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def writes(endpoint: Endpoint) -> Endpoint:
    """Mark a GET route that writes (a customer export records who exported what): its unit of
    work is an ordinary one, not read-only. Put it under the router's decorator."""
    setattr(endpoint, _WRITES_ATTR, True)
    return endpoint


def get_session(request: Request) -> Iterator[Session]:
    factory = request.app.state.session_factory
    # A page or a GET of the API only reads: it reads beside a writer (db.read_only).
    if request.method in READS and not getattr(request.scope.get("endpoint"), _WRITES_ATTR, False):
        session: Session = factory(bind=request.app.state.read_engine)
    else:
        session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# scope="function": the commit happens when the route returns, before the response is sent.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def api_principal(
    request: Request, session: SessionDep, clock: ClockDep, background: BackgroundTasks
) -> Principal:
    secret = _bearer(request)
    if secret is None:
        raise Unauthenticated("missing bearer token")
    principal, use_due = auth_service.token_principal(session, clock=clock, secret=secret)
    if use_due:
        if is_read_only(session):
            # Bookkeeping, not the client's data: written after the response, in a unit of work
            # of its own, so a read never waits for a writer.
            background.add_task(
                _record_token_use, request.app.state.session_factory, clock, principal.id
            )
        else:
            auth_service.record_token_use(session, clock=clock, token_id=principal.id)
    request.state.principal = principal
    return principal


def _record_token_use(factory: sessionmaker[Session], clock: Clock, token_id: str) -> None:
    with transaction(factory) as session:
        auth_service.record_token_use(session, clock=clock, token_id=token_id)


ApiPrincipal = Annotated[Principal, Depends(api_principal)]


class LoginRequired(Exception):
    """A page needs a logged-in user; the web layer answers with a redirect to /login."""


def optional_web_user(request: Request, session: SessionDep) -> Principal | None:
    user_id = request.session.get(USER_SESSION_KEY)
    if not user_id:
        return None
    user = auth_service.active_user(session, user_id)
    if user is None:
        request.session.pop(USER_SESSION_KEY, None)
        return None
    principal = auth_service.user_principal(user)
    if principal.locale:
        request.state.locale = principal.locale
    request.state.principal = principal
    return principal


def web_user(principal: Annotated[Principal | None, Depends(optional_web_user)]) -> Principal:
    if principal is None:
        raise LoginRequired()
    return principal


OptionalWebUser = Annotated[Principal | None, Depends(optional_web_user)]
WebUser = Annotated[Principal, Depends(web_user)]


def require(minimum: Role, *, web: bool = False) -> Callable[..., Principal]:
    """A dependency that admits principals of at least `minimum` role (403 otherwise)."""

    base = web_user if web else api_principal

    # A default rather than Annotated: the closure's `base` is not visible to FastAPI when it
    # resolves postponed annotations.
    def check(principal: Principal = Depends(base)) -> Principal:
        if not principal.has_role(minimum):
            raise PermissionDenied(f"this needs the {minimum.value} role")
        return principal

    return check


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use; every form carries it back."""
    token = request.session.get(CSRF_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_SESSION_KEY] = token
    return str(token)


async def reject_nul(request: Request) -> None:
    """No text may contain NUL: PostgreSQL cannot store it (a 500 otherwise), and no real name,
    address or e-mail has one. Checked on the query, on JSON bodies (`\\u0000`) and on form
    fields (the form FastAPI already parsed: its stream cannot be read twice)."""
    if "%00" in request.url.query:
        raise Invalid("text must not contain NUL characters", field="query")
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        if any(isinstance(v, str) and "\x00" in v for v in form.values()):
            raise Invalid("text must not contain NUL characters", field="body")
    elif b"\\u0000" in await request.body():
        raise Invalid("text must not contain NUL characters", field="body")


NoNul = Depends(reject_nul)


class CsrfError(Exception):
    """A form post without the session's CSRF token."""


def verify_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    expected = request.session.get(CSRF_SESSION_KEY)
    if not expected or not csrf_token or not constant_time_equals(expected, csrf_token):
        raise CsrfError()


CsrfProtected = Depends(verify_csrf)
