"""The sources page: where a manager creates tracking sources, copies the line to paste into the
web site, rotates a write key and turns a source off and on."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from phygital.auth.models import Role
from phygital.auth.service import Principal
from phygital.core.clock import Clock
from phygital.core.errors import Conflict, DomainError
from phygital.deps import ClockDep, CsrfProtected, SessionDep, require
from phygital.tracking import service
from phygital.tracking.models import SOURCE_CHANNELS, Channel
from phygital.tracking.snippet import snippet_line
from phygital.web import i18n
from phygital.web.templating import render, request_locale

router = APIRouter(prefix="/settings/sources", include_in_schema=False)

Manager = Annotated[Principal, Depends(require(Role.MANAGER, web=True))]

NOTICE_KEY = "notice"
MAX_NAME = 200


def _flash(request: Request, text: str) -> None:
    request.session[NOTICE_KEY] = {"text": text, "href": None}


def _page(
    request: Request,
    session: Session,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    base_url = str(request.base_url).rstrip("/")
    sources = service.list_sources(session)
    notice = request.session.pop(NOTICE_KEY, None)
    return render(
        request,
        "tracking/sources.html",
        {
            "sources": sources,
            "snippets": {s.id: snippet_line(base_url, s.write_key) for s in sources},
            "channels": [c.value for c in SOURCE_CHANNELS],
            "notice": notice if isinstance(notice, dict) else None,
            "error": error,
            "form": form or {"name": "", "channel": Channel.WEB.value},
        },
        status,
    )


@router.get("", response_class=HTMLResponse)
def sources_page(request: Request, session: SessionDep, user: Manager) -> Response:
    return _page(request, session)


@router.post("", dependencies=[CsrfProtected])
def create_source(
    request: Request,
    session: SessionDep,
    user: Manager,
    name: Annotated[str, Form()] = "",
    channel: Annotated[str, Form()] = Channel.WEB.value,
) -> Response:
    request_locale(request)
    form = {"name": name, "channel": channel}
    chosen = next((c for c in SOURCE_CHANNELS if c.value == channel), None)
    if chosen is None:
        message = i18n.gettext("Choose the channel of the source.")
        return _page(request, session, error=message, form=form, status=422)
    if len(name.strip()) > MAX_NAME:
        message = i18n.gettext("The name can be at most %(max)s characters.", max=MAX_NAME)
        return _page(request, session, error=message, form=form, status=422)
    try:
        source = service.create_source(session, name=name, channel=chosen)
    except DomainError as exc:
        session.rollback()
        if isinstance(exc, Conflict):
            message = i18n.gettext("A source with this name already exists.")
        else:
            message = i18n.gettext("Give the source a name.")
        return _page(request, session, error=message, form=form, status=exc.status_code)
    _flash(
        request,
        i18n.gettext("Source “%(name)s” created. Paste its line into the site.", name=source.name),
    )
    return RedirectResponse(f"/settings/sources#source-{source.id}", status_code=303)


@router.post("/{source_id}/rotate", dependencies=[CsrfProtected])
def rotate_key(request: Request, source_id: str, session: SessionDep, user: Manager) -> Response:
    request_locale(request)
    source = service.rotate_key(session, source_id=source_id)
    _flash(
        request,
        i18n.gettext(
            "New write key for “%(name)s”: the old one no longer works. "
            "Update the line in the site.",
            name=source.name,
        ),
    )
    return RedirectResponse(f"/settings/sources#source-{source.id}", status_code=303)


def _set_enabled(
    request: Request, session: Session, clock: Clock, source_id: str, *, enabled: bool
) -> Response:
    request_locale(request)
    source = service.set_enabled(session, clock=clock, source_id=source_id, enabled=enabled)
    if enabled:
        text = i18n.gettext("“%(name)s” is on: its events are accepted.", name=source.name)
    else:
        text = i18n.gettext("“%(name)s” is off: its events are refused.", name=source.name)
    _flash(request, text)
    return RedirectResponse(f"/settings/sources#source-{source.id}", status_code=303)


@router.post("/{source_id}/disable", dependencies=[CsrfProtected])
def disable(
    request: Request, source_id: str, session: SessionDep, clock: ClockDep, user: Manager
) -> Response:
    return _set_enabled(request, session, clock, source_id, enabled=False)


@router.post("/{source_id}/enable", dependencies=[CsrfProtected])
def enable(
    request: Request, source_id: str, session: SessionDep, clock: ClockDep, user: Manager
) -> Response:
    return _set_enabled(request, session, clock, source_id, enabled=True)
