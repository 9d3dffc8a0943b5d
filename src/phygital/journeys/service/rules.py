"""Journey rules: the company's detection window and events per side, stored as a setting."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy.orm import Session

from phygital.core import app_settings
from phygital.core.errors import Invalid
from phygital.journeys.detection import Rules

RULES_KEY = "journeys.rules"
MAX_WINDOW_DAYS = 365


def get_rules(session: Session) -> Rules:
    """The company's journey rules (window, events per side); the defaults until changed."""
    raw = app_settings.get_value(session, RULES_KEY)
    if not raw:
        return Rules()
    data = json.loads(raw)
    return Rules(
        window=timedelta(days=int(data.get("window_days", 30))),
        online_events=frozenset(data.get("online_events", [])),
        offline_events=frozenset(data.get("offline_events", [])),
    )


def set_rules(
    session: Session, *, window_days: int, online_events: list[str], offline_events: list[str]
) -> Rules:
    """Change the rules. Existing journeys keep the old ones until `rebuild` runs."""
    if not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise Invalid(f"window_days: between 1 and {MAX_WINDOW_DAYS}", field="window_days")
    data = {
        "window_days": window_days,
        "online_events": sorted({e.strip() for e in online_events if e.strip()}),
        "offline_events": sorted({e.strip() for e in offline_events if e.strip()}),
    }
    app_settings.set_value(session, RULES_KEY, json.dumps(data))
    return get_rules(session)
