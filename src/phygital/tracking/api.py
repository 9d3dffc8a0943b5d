"""The Segment-compatible tracking API: /v1/batch, /v1/identify, /v1/track, /v1/page, /v1/screen,
/v1/group, /v1/alias. `200 {"success": true}` only once every message is committed."""

from __future__ import annotations

import base64
import binascii
import json
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from phygital.core.errors import DomainError
from phygital.db import SQLITE_BUSY_TIMEOUT_MS, transaction
from phygital.tracking import service
from phygital.tracking.messages import (
    MAX_REQUEST_BYTES,
    MessageError,
    load_json,
    parse_body,
)

router = APIRouter(prefix="/v1", tags=["tracking"])

_DESCRIPTION = (
    "Segment-compatible. Authenticate with HTTP Basic (the source's write key as user name, "
    'empty password) or a `writeKey` field in the body. Answers `200 {"success": true}` once '
    "every message is durably stored; `400` with a `detail` naming the message and field when any "
    "message is invalid (nothing of the request is stored); `401` for an unknown write key; `413` "
    "for a request over 500 KB or a message over 32 KB. `Content-Encoding: gzip` is accepted; "
    "a repeated `messageId` from the same source is stored once. Error bodies are "
    '`{"detail", "code", "message"}` (the SDKs read `code` and `message`).'
)


class _TooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise _TooLarge()
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise _TooLarge()
        chunks.append(chunk)
    data = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = inflater.decompress(data, MAX_REQUEST_BYTES + 1)
        except zlib.error as exc:
            raise MessageError("body", f"not valid gzip: {exc}") from None
        if len(data) > MAX_REQUEST_BYTES or inflater.unconsumed_tail:
            raise _TooLarge()
    return data


def _basic_write_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[0]


# Ingestion requests of this process take turns for the write transaction here: waiting on a
# lock wakes at once when it is free, where SQLite's busy handler polls with growing sleeps (two
# concurrent batches lost ~10 % of the time asleep). Other writers still queue in SQLite. A turn
# not had within the busy timeout goes on to the database's own waiting.
_WRITE_TURN = threading.Lock()
_TURN_TIMEOUT_S = SQLITE_BUSY_TIMEOUT_MS / 1000


def _ingest(
    request: Request,
    write_key: str | None,
    body: Any,
    endpoint: str | None,
    raw: bytes,
    clean: bool,
) -> None:
    state = request.app.state
    # The write key first (401 before anything else; an unknown key costs no validation), in a
    # read-only unit of work: it does not wait for, nor hold up, another request's writing.
    with state.session_factory(bind=state.read_engine) as session, session.begin():
        service.source_for_key(session, write_key)
    # Validation is pure: outside the turn, it overlaps another request's writing.
    messages = parse_body(
        body,
        endpoint_type=endpoint,
        received_at=state.clock.now(),
        region=state.settings.default_region,
        body_bytes=len(raw),
        clean=clean,
    )
    with _turn(), transaction(state.session_factory) as session:
        # Again in the write transaction: a key disabled meanwhile stops here.
        source = service.source_for_key(session, write_key)
        service.ingest(session, clock=state.clock, source=source, messages=messages)


@contextmanager
def _turn() -> Iterator[None]:
    turn = _WRITE_TURN.acquire(timeout=_TURN_TIMEOUT_S)
    try:
        yield
    finally:
        if turn:
            _WRITE_TURN.release()


async def _handle(request: Request, endpoint: str | None) -> JSONResponse:
    try:
        raw = await _read_body(request)
        try:
            body, clean = load_json(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MessageError("body", f"not valid JSON: {exc}") from None
        except RecursionError:
            raise MessageError("body", "not valid JSON: nested too deeply") from None
        write_key = _basic_write_key(request)
        if write_key is None and isinstance(body, dict) and isinstance(body.get("writeKey"), str):
            write_key = body["writeKey"]
        await run_in_threadpool(_ingest, request, write_key, body, endpoint, raw, clean)
    except _TooLarge:
        return _error(413, "request larger than 500 KB")
    except MessageError as exc:
        return _error(exc.status, str(exc))
    except DomainError as exc:
        headers = {"WWW-Authenticate": 'Basic realm="tracking"'} if exc.status_code == 401 else None
        return _error(exc.status_code, exc.message, headers=headers)
    return JSONResponse({"success": True})


_CODES = {400: "invalid_request", 401: "invalid_write_key", 413: "too_large"}


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    # `code` and `message` are what the Segment and RudderStack SDKs read from an error body;
    # without them the RudderStack client fails on a KeyError and retries a 4xx for minutes
    # instead of giving up on it.
    body = {"detail": detail, "code": _CODES.get(status, "error"), "message": detail}
    return JSONResponse(body, status, headers=headers)


def _route(path: str, endpoint: str | None, summary: str) -> None:
    async def handler(request: Request) -> JSONResponse:
        return await _handle(request, endpoint)

    handler.__name__ = f"tracking_{path}"
    router.add_api_route(
        f"/{path}",
        handler,
        methods=["POST"],
        summary=summary,
        description=_DESCRIPTION,
        responses={
            400: {"description": "invalid message"},
            401: {"description": "bad key"},
            413: {"description": "too large"},
        },
    )


_route("batch", None, "Several messages of any type")
_route("identify", "identify", "Who the person is, with traits")
_route("track", "track", "Something the person did")
_route("page", "page", "A web page viewed")
_route("screen", "screen", "An app screen viewed")
_route("group", "group", "The company or household the person belongs to")
_route("alias", "alias", "Join a previous id to a user id")
