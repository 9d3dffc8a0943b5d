"""Jinja2 environment with gettext, Babel filters, and the `render` helper every page uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from phygital.deps import csrf_token
from phygital.web import i18n

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.filters["datetime"] = i18n.fmt_datetime
    env.filters["date"] = i18n.fmt_date
    env.filters["number"] = i18n.fmt_number
    env.globals["language_name"] = i18n.language_name
    env.globals["LOCALES"] = i18n.LOCALES
    env.globals["role_label"] = i18n.role_label
    return env


def request_locale(request: Request) -> str:
    locale = getattr(request.state, "locale", None) or i18n.DEFAULT_LOCALE
    i18n.set_locale(locale)
    return locale


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a page in the request's language, with the shell's common variables."""
    env: Environment = request.app.state.jinja
    locale = request_locale(request)
    values: dict[str, Any] = {
        "request": request,
        "lang": locale,
        "company_name": request.app.state.company_name,
        "company_tz": request.app.state.settings.timezone,
        "principal": getattr(request.state, "principal", None),
        "csrf_token": csrf_token(request),
        "now": request.app.state.clock.now(),
        "current_path": request.url.path,
        # Where the language switch returns: the same page with its filters.
        "current_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    values.update(context or {})
    html = env.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)
