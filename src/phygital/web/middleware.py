"""The request's language before any user is known: the `lang` cookie, else Accept-Language."""

from __future__ import annotations

import contextlib
from http.cookies import CookieError, SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from phygital.web import i18n


class LocaleMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            cookie_value = None
            if "cookie" in headers:
                jar: SimpleCookie = SimpleCookie()
                # A malformed cookie header just means no choice was made.
                with contextlib.suppress(CookieError):
                    jar.load(headers["cookie"])
                if "lang" in jar:
                    cookie_value = jar["lang"].value
            locale = i18n.choose_locale(
                user_locale=None,
                cookie=cookie_value,
                accept_language=headers.get("accept-language"),
            )
            scope.setdefault("state", {})["locale"] = locale
        await self.app(scope, receive, send)
