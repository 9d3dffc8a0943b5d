"""The journeys part of the customer page: online research a seller should mention, and the
customer's journeys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.dates import format_timedelta
from sqlalchemy.orm import Session

from phygital.journeys import research
from phygital.web import i18n


def customer_context(
    session: Session, *, customer_id: str, member_ids: list[str], now: datetime
) -> dict[str, Any]:
    """What the customer page shows of journeys: the online research a seller should mention
    (not bought yet) and the customer's journeys. Call after `request_locale`."""
    found = research.recent_research(session, {customer_id: member_ids}, now=now)
    lines = []
    for r in found.get(customer_id, []):
        # threshold 1.5: "10 days ago" rather than "1 week ago", "2 days" from 36 hours on
        ago = format_timedelta(
            r.at - now, threshold=1.5, add_direction=True, locale=i18n.get_locale()
        )
        lines.append(
            {
                "text": i18n.gettext(
                    "Looked at %(product)s online %(ago)s", product=r.name or r.sku, ago=ago
                ),
                "sku": r.sku,
                "at": r.at,
                "channel": r.channel,
            }
        )
    return {
        "research": lines,
        "journeys": research.customer_journeys(session, member_ids=member_ids),
    }
