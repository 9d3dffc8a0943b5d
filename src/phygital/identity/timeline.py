"""The customer's timeline: every domain contributes items through a registered provider.

Providers return items strictly before a cursor, newest first; the timeline merges them. The
cursor is (time, provider, sequence) so pages never skip or repeat items, even at equal times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, or_
from sqlalchemy.orm import Session

from phygital.core.pagination import decode_cursor, encode_cursor


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    channel: str | None
    kind: str
    summary: str
    ref: str
    provider: str
    seq: str  # the provider's own tie-breaker, compared as a zero-padded string
    detail: dict[str, Any] | None = None

    def sort_key(self) -> tuple[datetime, str, str]:
        return (self.at, self.provider, self.seq)


@dataclass(frozen=True)
class Before:
    """Items strictly older than this position."""

    at: datetime
    provider: str
    seq: str


def older_than(before: Before, provider: str, at: Any, seq: Any) -> ColumnElement[bool]:
    """The SQL condition "strictly before the cursor" for a provider's rows, given its time
    column and its tie-breaker column: rows at the cursor's time come before it when the
    provider sorts before the cursor's provider, or, within the same provider, by sequence."""
    older = at < before.at
    if before.provider > provider:
        return or_(older, at == before.at)
    if before.provider == provider:
        value: Any = int(before.seq) if isinstance(seq.type, Integer) else before.seq
        return or_(older, and_(at == before.at, seq < value))
    return older  # type: ignore[no-any-return]


Provider = Callable[[Session, list[str], Before | None, int], list[TimelineItem]]

_PROVIDERS: dict[str, Provider] = {}


def timeline_provider(name: str) -> Callable[[Provider], Provider]:
    def register(fn: Provider) -> Provider:
        _PROVIDERS[name] = fn
        return fn

    return register


def read(
    session: Session, *, member_ids: list[str], cursor: str | None, limit: int
) -> tuple[list[TimelineItem], str | None]:
    before = None
    if cursor:
        at, provider, seq = decode_cursor(cursor, size=3)
        before = Before(datetime.fromisoformat(at), str(provider), str(seq))
    items: list[TimelineItem] = []
    for fn in _PROVIDERS.values():
        items.extend(fn(session, member_ids, before, limit + 1))
    items.sort(key=TimelineItem.sort_key, reverse=True)
    page = items[:limit]
    has_more = len(items) > limit
    next_cursor = None
    if has_more and page:
        last = page[-1]
        next_cursor = encode_cursor([last.at.isoformat(), last.provider, last.seq])
    return page, next_cursor


def seq(number: int) -> str:
    return f"{number:020d}"
