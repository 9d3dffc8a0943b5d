"""Parsing and validating Segment-spec messages (pure: no database).

A request is validated whole before anything is stored: the first problem is reported with the
message index and the field, e.g. `batch[3].event: required for track calls`.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from phygital.core.errors import Invalid
from phygital.core.jsoncodec import may_hold_long_integers
from phygital.identity import identifiers as ids
from phygital.identity.identifiers import Ident
from phygital.privacy.consent import ConsentStatement, parse_context_consent
from phygital.tracking.models import Channel

TYPES = ("identify", "track", "page", "screen", "group", "alias")
MAX_REQUEST_BYTES = 500 * 1024
MAX_MESSAGE_BYTES = 32 * 1024
MAX_DEPTH = 64
TRAIT_IDENTIFIERS = {
    "email": ids.EMAIL,
    "phone": ids.PHONE,
    "loyalty_card": ids.LOYALTY_CARD,
    "loyaltyCard": ids.LOYALTY_CARD,
}


class MessageError(Exception):
    """A message that cannot be accepted; `where` names the message and the field."""

    def __init__(self, where: str, reason: str, status: int = 400) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason
        self.status = status


@dataclass
class Message:
    """A validated message, ready for resolution and storage."""

    type: str
    message_id: str
    user_id: str | None
    anonymous_id: str | None
    previous_id: str | None
    name: str | None
    properties: dict[str, Any]
    traits: dict[str, Any]
    context: dict[str, Any]
    event_at: datetime
    channel: str | None
    sku: str | None
    identifiers: list[Ident] = field(default_factory=list)
    consent: list[ConsentStatement] = field(default_factory=list)


# JSON's \uXXXX escapes can spell characters PostgreSQL cannot store (NUL) and lone UTF-16
# surrogates no database can encode as UTF-8; both would fail the insert with a 500.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable_text(text: str) -> str:
    if not _UNSTORABLE.search(text):
        return text
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def storable(value: Any, where: str = "body", depth: int = 0) -> Any:
    """The JSON as both databases store it: NUL characters dropped, lone surrogates replaced,
    NaN and infinities (Python's json module writes them, e.g. for a missing price) turned into
    null. Deeper nesting than any real payload is refused."""
    if isinstance(value, str):
        return _storable_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise MessageError(where, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        return {_storable_text(k): storable(v, where, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v, where, depth + 1) for v in value]
    return value


# What in a request's raw bytes can make `storable` change anything: the escapes of NUL and of
# surrogates, NaN and infinities, and exponents large enough to overflow a float.
_NEEDS_CLEANING = re.compile(rb"\\u0000|\\u[dD][89a-fA-F]|NaN|Infinity|[eE][+]?\d{3}")


def needs_cleaning(raw: bytes) -> bool:
    """False when `storable` would return the body unchanged (the common case): then only the
    nesting depth needs checking, which is much cheaper."""
    return _NEEDS_CLEANING.search(raw) is not None


def load_json(raw: bytes) -> tuple[Any, bool]:
    """A request body parsed, and whether `storable` has anything to clean in it.

    orjson first (several times faster on a batch of 500 messages): it refuses NaN, infinities
    and lone surrogates, so a body it reads needs cleaning only for an escaped NUL. Whatever it
    refuses goes to the json module, which accepts the same documents as before (and raises the
    same errors), then through the byte-level check."""
    if not may_hold_long_integers(raw):
        try:
            return orjson.loads(raw), b"\\u0000" in raw
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw), needs_cleaning(raw)


def _json_size(value: Any) -> int:
    """A message's size as the limit measures it (and the browser snippet before sending): compact
    JSON with every non-ASCII character escaped as \\uXXXX. orjson gives the same length for
    the usual all-ASCII message, much faster; anything else is measured by the json module."""
    try:
        text = orjson.dumps(value)
        if text.isascii():
            return len(text)
    except TypeError:  # integers beyond 64 bits
        pass
    return len(json.dumps(value, separators=(",", ":")))


def check_depth(value: Any, where: str = "body", depth: int = 0) -> None:
    """The depth limit of `storable`, without rebuilding anything."""
    if depth >= MAX_DEPTH and isinstance(value, dict | list):
        raise MessageError(where, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            if isinstance(item, dict | list):
                check_depth(item, where, depth + 1)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                check_depth(item, where, depth + 1)


def _id_text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MessageError(where, "must be a string")
    text = str(value).strip()
    if len(text) > 255:
        raise MessageError(where, "longer than 255 characters")
    return text or None


def _obj(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MessageError(where, "must be an object")
    return value


def parse_time(value: Any, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MessageError(where, "must be an ISO 8601 time")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MessageError(where, f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00
        raise MessageError(where, f"out of range: {value!r}") from None


def event_time(
    raw: dict[str, Any], where: str, *, received_at: datetime, sent_at: datetime | None
) -> datetime:
    """Segment's rule: the timestamp if given, else corrected for the sender's clock skew."""
    timestamp = parse_time(raw.get("timestamp"), f"{where}.timestamp")
    if timestamp is not None:
        return timestamp
    original = parse_time(raw.get("originalTimestamp"), f"{where}.originalTimestamp")
    sent = parse_time(raw.get("sentAt"), f"{where}.sentAt") or sent_at
    if original is not None and sent is not None:
        try:
            return received_at - (sent - original)
        except OverflowError:
            raise MessageError(f"{where}.originalTimestamp", "too far from sentAt") from None
    return original or received_at


def _sku(properties: dict[str, Any]) -> str | None:
    for key in ("sku", "product_id", "productId"):
        value = properties.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()[:100]
    return None


def parse_message(
    raw: Any,
    where: str,
    *,
    endpoint_type: str | None,
    received_at: datetime,
    sent_at: datetime | None,
    defaults: dict[str, Any],
    region: str,
    check_size: bool = True,
) -> Message:
    if not isinstance(raw, dict):
        raise MessageError(where, "must be an object")
    if check_size and _json_size(raw) > MAX_MESSAGE_BYTES:
        raise MessageError(where, "message larger than 32 KB", status=413)
    kind = endpoint_type or raw.get("type")
    if kind not in TYPES:
        raise MessageError(f"{where}.type", f"must be one of {', '.join(TYPES)}")
    user_id = _id_text(raw.get("userId"), f"{where}.userId")
    anonymous_id = _id_text(raw.get("anonymousId"), f"{where}.anonymousId")
    usable_user = user_id if user_id and not ids.is_placeholder(user_id) else None
    usable_anon = anonymous_id if anonymous_id and not ids.is_placeholder(anonymous_id) else None
    if not usable_user and not usable_anon:
        field_name = "userId" if user_id else "anonymousId"
        reason = (
            "a placeholder is not an identifier"
            if (user_id or anonymous_id)
            else "userId or anonymousId is required"
        )
        raise MessageError(f"{where}.{field_name}", reason)
    previous_id = None
    if kind == "alias":
        previous_id = _id_text(raw.get("previousId"), f"{where}.previousId")
        if not previous_id or ids.is_placeholder(previous_id):
            raise MessageError(f"{where}.previousId", "required for alias calls")
        if not usable_user:
            raise MessageError(f"{where}.userId", "required for alias calls")
    name = raw.get("event") if kind == "track" else raw.get("name")
    if kind == "track" and (not isinstance(name, str) or not name.strip()):
        raise MessageError(f"{where}.event", "required for track calls")
    if name is not None and not isinstance(name, str):
        raise MessageError(f"{where}.name", "must be a string")
    if kind == "group" and _id_text(raw.get("groupId"), f"{where}.groupId") is None:
        raise MessageError(f"{where}.groupId", "required for group calls")
    properties = _obj(raw.get("properties"), f"{where}.properties")
    traits = _obj(raw.get("traits"), f"{where}.traits")
    context = {
        **_obj(defaults.get("context"), "context"),
        **_obj(raw.get("context"), f"{where}.context"),
    }
    context_traits = _obj(context.get("traits"), f"{where}.context.traits")
    channel = context.get("channel")
    if channel is not None:
        try:
            channel = Channel(channel).value
        except ValueError:
            allowed = ", ".join(c.value for c in Channel)
            raise MessageError(
                f"{where}.context.channel", f"unknown channel {channel!r} (allowed: {allowed})"
            ) from None
    message_id = _id_text(raw.get("messageId"), f"{where}.messageId") or uuid.uuid4().hex
    if len(message_id) > 100:
        raise MessageError(f"{where}.messageId", "longer than 100 characters")
    at = event_time(raw, where, received_at=received_at, sent_at=sent_at)
    if at > received_at + timedelta(days=1):
        at = received_at  # a sender's clock far in the future: trust our own

    person_traits = {**context_traits, **traits} if kind == "identify" else context_traits
    pairs: list[tuple[str, object]] = [(ids.USER_ID, usable_user), (ids.ANONYMOUS_ID, usable_anon)]
    for trait, kind_name in TRAIT_IDENTIFIERS.items():
        if trait in person_traits:
            pairs.append((kind_name, person_traits[trait]))
    for ext in context.get("externalIds") or []:
        if isinstance(ext, dict) and ext.get("type") and ext.get("id") is not None:
            pairs.append((str(ext["type"]).lower(), ext["id"]))
    identifiers, _problems = ids.collect(pairs, region=region)
    consent: list[ConsentStatement] = []
    if context.get("consent") is not None:
        try:
            consent = parse_context_consent(context["consent"], at=at, source="tracking")
        except Invalid as exc:
            raise MessageError(f"{where}.{exc.field or 'context.consent'}", exc.message) from None
    return Message(
        type=kind,
        message_id=message_id,
        user_id=usable_user,
        anonymous_id=usable_anon,
        previous_id=previous_id,
        name=name.strip()[:200] if isinstance(name, str) and name.strip() else None,
        properties=properties,
        traits=person_traits,
        context=context,
        event_at=at,
        channel=channel,
        sku=_sku(properties) if kind in ("track", "page", "screen") else None,
        identifiers=identifiers,
        consent=consent,
    )


def parse_body(
    body: Any,
    *,
    endpoint_type: str | None,
    received_at: datetime,
    region: str,
    body_bytes: int | None = None,
    clean: bool = True,
) -> list[Message]:
    """All messages of a request, or the first `MessageError`. With the request's size in
    `body_bytes`, a body too small to hold a message over 32 KB skips the per-message check;
    `clean=False` (see `needs_cleaning`) skips rebuilding a body that has nothing to clean."""
    check_size = body_bytes is None or body_bytes > MAX_MESSAGE_BYTES
    if not isinstance(body, dict):
        raise MessageError("body", "must be a JSON object")
    if clean:
        body = storable(body)
    else:
        check_depth(body)
    sent_at = parse_time(body.get("sentAt"), "sentAt")
    if endpoint_type is None:
        batch = body.get("batch")
        if not isinstance(batch, list):
            raise MessageError("batch", "must be a list of messages")
        if not batch:
            raise MessageError("batch", "is empty")
        defaults = {"context": body.get("context")}
        return [
            parse_message(
                raw,
                f"batch[{i}]",
                endpoint_type=None,
                received_at=received_at,
                sent_at=sent_at,
                defaults=defaults,
                region=region,
                check_size=check_size,
            )
            for i, raw in enumerate(batch)
        ]
    return [
        parse_message(
            body,
            "body",
            endpoint_type=endpoint_type,
            received_at=received_at,
            sent_at=None,
            defaults={},
            region=region,
        )
    ]
