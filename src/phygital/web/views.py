"""The shell's pages: login, logout, language switch, home dashboard."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from phygital.auth import service as auth_service
from phygital.core.errors import TooManyAttempts, Unauthenticated
from phygital.deps import (
    USER_SESSION_KEY,
    ClockDep,
    CsrfProtected,
    OptionalWebUser,
    SessionDep,
    SettingsDep,
    WebUser,
)
from phygital.web import i18n
from phygital.web.templating import render

router = APIRouter(include_in_schema=False)

LANG_COOKIE = "lang"


def safe_next(target: str | None) -> str:
    """Only same-site paths are followed after login (no open redirect)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: WebUser) -> Response:
    return render(request, "web/home.html", {"user": user})


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, user: OptionalWebUser, next: str | None = None) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "auth/login.html", {"next": safe_next(next), "email": ""})


@router.post("/login", response_class=HTMLResponse, dependencies=[CsrfProtected])
def login(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    ip = request.client.host if request.client else "unknown"
    try:
        user = auth_service.authenticate(
            session,
            clock=clock,
            email=email,
            password=password,
            ip=ip,
            max_failures=settings.login_max_failures,
            window=timedelta(minutes=settings.login_window_minutes),
        )
    except (Unauthenticated, TooManyAttempts) as exc:
        # The failed attempt must be kept even though this request answers with an error.
        session.commit()
        limited = isinstance(exc, TooManyAttempts)
        i18n.set_locale(getattr(request.state, "locale", i18n.DEFAULT_LOCALE))
        error = (
            i18n.gettext("Too many failed attempts. Try again in a few minutes.")
            if limited
            else i18n.gettext("Wrong e-mail or password.")
        )
        return render(
            request,
            "auth/login.html",
            {"next": safe_next(next), "email": email, "error": error},
            status_code=429 if limited else 401,
        )
    # A fresh session on login: nothing from before (a fixated cookie) carries over.
    request.session.clear()
    request.session[USER_SESSION_KEY] = user.id
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout", dependencies=[CsrfProtected])
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.post("/lang", dependencies=[CsrfProtected])
def switch_language(
    request: Request,
    session: SessionDep,
    user: OptionalWebUser,
    lang: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    locale = lang if lang in i18n.LOCALES else i18n.DEFAULT_LOCALE
    if user is not None:
        auth_service.set_locale(session, user_id=user.id, locale=locale)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, locale, max_age=365 * 24 * 3600, httponly=True, samesite="lax")
    return response
