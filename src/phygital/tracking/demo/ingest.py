"""Sending a plan through the real ingestion path (`parse_body`, then `ingest`), in time order,
with a clock that follows the events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy.orm import Session

from phygital.tracking import service
from phygital.tracking.demo.activity import ActivityPlan, Planned
from phygital.tracking.demo.sources import DEMO_SOURCES, TZ
from phygital.tracking.messages import parse_body
from phygital.tracking.models import Source

_BATCH = 500  # messages per ingest call, as an SDK would send them


class _SteppingClock:
    """A batch's clock: starts just after its last event and moves on a microsecond at each
    reading, so the profiles a batch creates get distinct creation times in the order they were
    first seen (the oldest survives a merge: the same one on every run)."""

    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        self._at += timedelta(microseconds=1)
        return self._at


@dataclass
class IngestReport:
    events: int = 0
    by_source: dict[str, int] = field(default_factory=dict)


def ingest_plan(
    session: Session,
    *,
    sources: dict[str, Source],
    plan: ActivityPlan,
    region: str,
    window: int = 300,
    max_days: int = 3,
) -> IngestReport:
    """Send the planned messages through `parse_body` and `ingest` in time order: whole days at
    a time (until `window` messages or `max_days` days are gathered), one call per source and
    up to 500 messages, with a clock just after each batch's last event, so profiles are
    created, merged and consents recorded about when production would have. A day per call
    would be truer, but every call has a fixed cost: this keeps 300 customers to seconds."""
    report = IngestReport()
    ordered = [p for _, p in sorted(enumerate(plan.messages), key=lambda i: (i[1].at, i[0]))]
    pending: list[Planned] = []
    days = 0
    for _, day in groupby(ordered, key=lambda p: p.at.astimezone(TZ).date()):
        pending.extend(day)
        days += 1
        if len(pending) >= window or days >= max_days:
            _ingest_window(session, sources=sources, items=pending, region=region, report=report)
            pending, days = [], 0
    _ingest_window(session, sources=sources, items=pending, region=region, report=report)
    return report


def _ingest_window(
    session: Session,
    *,
    sources: dict[str, Source],
    items: list[Planned],
    region: str,
    report: IngestReport,
) -> None:
    by_source: dict[str, list[Planned]] = {}
    for planned in items:
        by_source.setdefault(planned.source, []).append(planned)
    for name, _channel in DEMO_SOURCES:
        mine = by_source.get(name, [])
        for start in range(0, len(mine), _BATCH):
            chunk = mine[start : start + _BATCH]
            clock = _SteppingClock(chunk[-1].at + timedelta(seconds=2))
            messages = parse_body(
                {"batch": [p.message for p in chunk]},
                endpoint_type=None,
                received_at=clock.now(),
                region=region,
            )
            stored = service.ingest(session, clock=clock, source=sources[name], messages=messages)
            report.events += stored
            report.by_source[name] = report.by_source.get(name, 0) + stored
