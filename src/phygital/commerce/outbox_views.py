"""The outbox page: every message to customers and where it went. Messages that wait for a
person (no SMTP server configured) are forwarded by hand and marked sent here; failed ones are
queued again. Managers and the owner only; a store-scoped manager sees their store's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from phygital.auth.models import Role
from phygital.auth.service import Principal
from phygital.commerce import notifications
from phygital.commerce.models import NotificationStatus
from phygital.core.errors import Conflict, DomainError
from phygital.deps import ClockDep, CsrfProtected, SessionDep, require
from phygital.web import i18n
from phygital.web.templating import render, request_locale

router = APIRouter(prefix="/outbox", include_in_schema=False)

Manager = Annotated[Principal, Depends(require(Role.MANAGER, web=True))]

PAGE_SIZE = 50
NOTICE_KEY = "notice"


def status_labels() -> dict[str, str]:
    return {
        "outbox": i18n.gettext("To forward"),
        "queued": i18n.gettext("Queued"),
        "sent": i18n.gettext("Sent"),
        "failed": i18n.gettext("Failed"),
        "skipped": i18n.gettext("Not sent"),
    }


def reason_label(text: str | None) -> str:
    """A reason kept in `last_error`, in the reader's language when it is one we know."""
    if not text:
        return ""
    email = notifications.EmailChannel
    known = {
        notifications.NO_CUSTOMER: i18n.gettext("The order has no customer."),
        notifications.CUSTOMER_GONE: i18n.gettext("The customer's profile no longer exists."),
        notifications.IN_FLIGHT: i18n.gettext("Sending: no answer from the server yet."),
        notifications.INTERRUPTED: i18n.gettext(
            "Sent. An earlier attempt stopped while sending: the customer may have it twice."
        ),
        email.no_address: i18n.gettext("The customer has no e-mail address."),
        email.refused: i18n.gettext("The customer refused service messages by e-mail."),
    }
    return " ".join(known.get(part, part) for part in text.split("; "))


def channel_label(name: str | None) -> str:
    labels = {"email": i18n.gettext("E-mail"), "whatsapp": "WhatsApp", "sms": "SMS"}
    return labels.get(name or "", name or "—")


def _back(status: str) -> str:
    """The list to return to after an action (only a known filter, never a free address)."""
    if status in {s.value for s in NotificationStatus}:
        return f"/outbox?status={status}"
    return "/outbox"


def _flash(request: Request, text: str, *, error: bool = False) -> None:
    request.session[NOTICE_KEY] = {"text": text, "href": None, "error": error}


@router.get("", response_class=HTMLResponse)
def outbox_page(
    request: Request,
    session: SessionDep,
    user: Manager,
    status: NotificationStatus | None = None,
    cursor: str | None = None,
) -> Response:
    request_locale(request)
    store_id = user.visible_store_id
    error = None
    try:
        rows, next_cursor = notifications.list_notifications(
            session, status=status, store_id=store_id, cursor=cursor or None, limit=PAGE_SIZE
        )
    except (DomainError, ValueError):  # a cursor made by hand
        error = i18n.gettext("This link is no longer valid: showing the newest items.")
        rows, next_cursor = notifications.list_notifications(
            session, status=status, store_id=store_id, limit=PAGE_SIZE
        )
        cursor = None
    notice = request.session.pop(NOTICE_KEY, None)
    context: dict[str, Any] = {
        "rows": rows,
        "next_cursor": next_cursor,
        "paged": bool(cursor),
        "status": status.value if status else "",
        "filters": [s.value for s in notifications.FILTERS],
        "counts": notifications.status_counts(session, store_id=store_id),
        "status_labels": status_labels(),
        "reason_label": reason_label,
        "channel_label": channel_label,
        "notice": notice if isinstance(notice, dict) else None,
        "error": error,
    }
    return render(request, "commerce/outbox.html", context)


@router.post("/{notification_id}/sent", dependencies=[CsrfProtected])
def mark_sent(
    request: Request,
    notification_id: str,
    session: SessionDep,
    clock: ClockDep,
    user: Manager,
    back: Annotated[str, Form()] = "",
) -> Response:
    request_locale(request)
    note = notifications.get_notification(session, notification_id, store_id=user.visible_store_id)
    try:
        notifications.mark_sent_by_hand(session, clock=clock, notification=note, by=user.name)
    except Conflict:
        _flash(
            request, i18n.gettext("This message is no longer waiting to be forwarded."), error=True
        )
    else:
        _flash(request, i18n.gettext("Marked as sent to %(to)s.", to=note.recipient or "—"))
    return RedirectResponse(_back(back), status_code=303)


@router.post("/{notification_id}/retry", dependencies=[CsrfProtected])
def retry(
    request: Request,
    notification_id: str,
    session: SessionDep,
    clock: ClockDep,
    user: Manager,
    back: Annotated[str, Form()] = "",
) -> Response:
    request_locale(request)
    note = notifications.get_notification(session, notification_id, store_id=user.visible_store_id)
    try:
        notifications.retry(session, clock=clock, notification=note)
    except Conflict:
        _flash(request, i18n.gettext("Only a failed message can be sent again."), error=True)
    else:
        _flash(request, i18n.gettext("Queued again: it will be sent in a moment."))
    return RedirectResponse(_back(back), status_code=303)
