"""The first-party browser snippet: `GET /js/phygital.js`, the one line a shop pastes, and CORS
for the tracking endpoints so that the snippet can send from the shop's own origin."""

from __future__ import annotations

import hashlib
from html import escape
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SNIPPET_FILE = Path(__file__).resolve().parent.parent / "static" / "js" / "phygital.js"
SNIPPET_PATH = "/js/phygital.js"
TRACKING_PREFIX = "/v1"

router = APIRouter(include_in_schema=False)


@router.get(SNIPPET_PATH)
def phygital_js(request: Request) -> Response:
    body = SNIPPET_FILE.read_bytes()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    # An hour of caching, then a cheap 304: a new version reaches every shop the same day. The
    # CORS header lets a shop pin the file with `integrity` and `crossorigin`.
    headers = {
        "Cache-Control": "public, max-age=3600",
        "ETag": etag,
        "Access-Control-Allow-Origin": "*",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/javascript; charset=utf-8", headers=headers)


def snippet_line(base_url: str, write_key: str) -> str:
    """The one line to paste into every page of a shop, e.g.
    `<script src="https://cx.example.com/js/phygital.js" data-write-key="wk_…" async></script>`.

    `base_url` is where visitors' browsers reach Phygital (scheme, host, maybe a path prefix):
    the snippet sends its events to `/v1/batch` under the same base."""
    src = base_url.rstrip("/") + SNIPPET_PATH
    return (
        f'<script src="{escape(src, quote=True)}" '
        f'data-write-key="{escape(write_key, quote=True)}" async></script>'
    )


# `AnonymousId` is sent by RudderStack's browser SDK; the rest by any Segment-style client.
ALLOWED_HEADERS = "Content-Type, Authorization, Content-Encoding, AnonymousId"


class TrackingCorsMiddleware:
    """CORS on the tracking endpoints (`/v1/...`) only: any origin may send events there, with
    the write key as its only credential. `/api` and the web app stay same-origin."""

    def __init__(self, app: ASGIApp, prefix: str = TRACKING_PREFIX) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")

    def _applies(self, scope: Scope) -> bool:
        if scope["type"] != "http":  # lifespan and websockets carry no path to match
            return False
        path: str = scope["path"]
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._applies(scope):
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in request_headers:
            preflight = Response(
                status_code=204,
                headers={
                    "Access-Control-Allow-Origin": "*",
                    "Access-Control-Allow-Methods": "POST, OPTIONS",
                    "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                    "Access-Control-Max-Age": "86400",
                },
            )
            await preflight(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Access-Control-Allow-Origin"] = "*"
            await send(message)

        await self.app(scope, receive, send_with_cors)
