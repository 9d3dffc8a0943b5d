"""Errors as people and programs expect them: JSON `{"detail": …}` for the API, tracking and
webhooks; a page in the user's language for the web app; a redirect to /login for pages that
need a user."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from phygital.core.errors import DomainError
from phygital.deps import CsrfError, LoginRequired
from phygital.web import i18n
from phygital.web.templating import render

log = logging.getLogger(__name__)

MACHINE_PREFIXES = ("/api/", "/v1/", "/webhooks/", "/health", "/openapi.json")


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(MACHINE_PREFIXES):
        return True
    return "text/html" not in request.headers.get("accept", "")


def _titles() -> dict[int, str]:
    return {
        400: i18n.gettext("Bad request"),
        401: i18n.gettext("Please log in"),
        403: i18n.gettext("Not allowed"),
        404: i18n.gettext("Page not found"),
        405: i18n.gettext("Not allowed"),
        409: i18n.gettext("Conflict"),
        422: i18n.gettext("Invalid input"),
        429: i18n.gettext("Too many requests"),
        500: i18n.gettext("Something went wrong"),
    }


def error_page(request: Request, status: int, message: str | None = None) -> Response:
    i18n.set_locale(getattr(request.state, "locale", i18n.DEFAULT_LOCALE))
    title = _titles().get(status, i18n.gettext("Something went wrong"))
    return render(
        request, "web/error.html", {"status": status, "title": title, "message": message}, status
    )


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route accepts at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        route_methods = getattr(route, "methods", None)
        if match != Match.NONE and route_methods:
            methods |= set(route_methods)
    return sorted(methods)


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if wants_json(request):
            detail: object = exc.message
            if exc.field:
                detail = [{"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}]
            return JSONResponse({"detail": detail}, exc.status_code, headers=headers)
        return error_page(request, exc.status_code, exc.message)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(CsrfError)
    async def csrf_error(request: Request, exc: CsrfError) -> Response:
        i18n.set_locale(getattr(request.state, "locale", i18n.DEFAULT_LOCALE))
        message = i18n.gettext(
            "The form expired or did not come from this site. Reload the page and try again."
        )
        return error_page(request, 403, message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request))
        if wants_json(request):
            body: dict[str, object] = {"detail": exc.detail}
            if request.url.path.startswith("/v1/"):
                # Tracking SDKs read `code` from any error body (see tracking/api.py).
                body.update(
                    code="not_found" if exc.status_code == 404 else "error", message=str(exc.detail)
                )
            return JSONResponse(body, exc.status_code, headers=headers)
        response = error_page(request, exc.status_code)
        response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        if wants_json(request):
            return JSONResponse({"detail": errors}, 422)
        return error_page(
            request, 422, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if wants_json(request):
            body = {"detail": "internal server error"}
            if request.url.path.startswith("/v1/"):
                body.update(code="server_error", message="internal server error")
            return JSONResponse(body, 500)
        return error_page(request, 500)
