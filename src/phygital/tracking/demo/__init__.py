"""The demo company's tracking: five sources and 90 days of web, app and store activity.

`plan_activity` is pure: from the people, a seeded generator and "now" it writes the Segment
messages each touchpoint would have sent (the same input gives the same messages).
`ingest_plan` sends them through the real ingestion path, `parse_body` then `ingest`, one source
and one day at a time, in time order, with a clock that follows the events: profiles, merges and
consents are exactly what production would hold after those 90 days.

What the activity shows:
- people who browse anonymously and are identified later (the same device before and after);
- tills that recognise customers by loyalty card, phone or e-mail, and products tried in store;
- consent given or refused at sign-up, on the web, in the app and at the till, with its wording;
- a kiosk in the Milano store shared by several customers: one device, different e-mails, kept
  apart as separate customers;
- one merge a manager should undo: a family tablet that browsed for weeks, then subscribed to
  the newsletter with the husband's e-mail, so its profile was merged into his.

The package, by subject: `sources` (the touchpoints as tracking sources, the constants of their
activity), `activity` (what a plan holds), `touchpoints` (what one session on each sends),
`planner` (who does what, and when: `plan_activity`) and `ingest` (`ingest_plan`).
"""

from phygital.tracking.demo.activity import ActivityPlan, Interaction, Planned
from phygital.tracking.demo.ingest import IngestReport, ingest_plan
from phygital.tracking.demo.planner import plan_activity
from phygital.tracking.demo.sources import (
    APP,
    DAYS,
    DEMO_SOURCES,
    KIOSK_ID,
    SITE,
    TZ,
    WEB,
    WORDING,
    create_sources,
)

__all__ = [
    "APP",
    "DAYS",
    "DEMO_SOURCES",
    "KIOSK_ID",
    "SITE",
    "TZ",
    "WEB",
    "WORDING",
    "ActivityPlan",
    "IngestReport",
    "Interaction",
    "Planned",
    "create_sources",
    "ingest_plan",
    "plan_activity",
]
