"""`phygital demo`: a realistic demo company in an empty database.

Each capability adds its own part here (stores and people; customers and 90 days of web, app
and store activity; orders, journeys and conversations as they arrive), always through the same
services the product uses. The demo's "now" is the clock's (the real time from the command
line); every generated time is relative to it, and a seeded generator makes the content the
same on every run.
"""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from phygital.auth import service as auth_service
from phygital.auth.models import Role, User
from phygital.commerce.demo import seed_stores
from phygital.commerce.demo_orders import plan_orders, seed_catalogue, seed_orders
from phygital.commerce.models import Store
from phygital.core import app_settings
from phygital.core.clock import Clock
from phygital.core.errors import Conflict
from phygital.db import session_clock
from phygital.identity import service as identity_service
from phygital.identity.demo import make_people
from phygital.identity.identifiers import EMAIL, normalise
from phygital.identity.models import Profile
from phygital.privacy.models import ConsentEntry
from phygital.tracking.demo import (
    DAYS,
    DEMO_SOURCES,
    create_sources,
    ingest_plan,
    plan_activity,
)
from phygital.tracking.models import Source

COMPANY_NAME = "Velò Bici"
DEMO_SEED = 20_261_122

DEMO_USERS = (
    ("titolare@velo.example", "Alessandra Conti", Role.ADMIN, None),
    ("giulia@velo.example", "Giulia Bianchi", Role.SELLER, "MI"),
    ("marco@velo.example", "Marco Ferrari", Role.SELLER, "TO"),
)


def build_demo(
    session: Session,
    *,
    customers: int,
    password: str | None,
    region: str = "IT",
    clock: Clock | None = None,
    seed: int = DEMO_SEED,
) -> str:
    """Create the demo company and return what to print: what was created, how to log in."""
    for table in (User, Store, Source, Profile):
        if session.scalar(select(exists().select_from(table))):
            raise Conflict("the database is not empty: run the demo on a new database")
    now = (clock or session_clock(session)).now()
    password = password or secrets.token_urlsafe(9)
    app_settings.set_value(session, app_settings.COMPANY_NAME, COMPANY_NAME)
    seed_stores(session)
    for email, name, role, store in DEMO_USERS:
        auth_service.create_user(
            session, email=email, name=name, role=role, password=password, store_code=store
        )
    sources = create_sources(session, at=now - timedelta(days=DAYS))
    rng = random.Random(seed)
    people = make_people(customers, rng)
    plan = plan_activity(people, now=now, rng=rng)
    report = ingest_plan(session, sources=sources, plan=plan, region=region)
    seed_catalogue(session, at=now - timedelta(days=DAYS))
    order_plan = plan_orders(people, plan.interactions, now=now, rng=rng, days=DAYS)
    seed_orders(session, plan=order_plan, region=region, now=now)

    lines = [
        f"Demo company '{COMPANY_NAME}' is ready: 3 stores (MI, TO, BO), an owner and two sellers.",
        "Start it with:  phygital serve   then open http://127.0.0.1:8000/login",
        "",
        "Log in as (password for all: " + password + "):",
    ]
    for email, name, role, store in DEMO_USERS:
        where = f", store {store}" if store else ""
        lines.append(f"  {email:<26} {name} ({role.value}{where})")
    lines.append("")
    source_names = ", ".join(name for name, _ in DEMO_SOURCES)
    if not customers:
        lines.append(f"Sources: {source_names} (no customers: --customers 0).")
        return "\n".join(lines)
    per_channel = ", ".join(f"{report.by_source.get(name, 0):,} {name}" for name, _ in DEMO_SOURCES)
    lines.append(
        f"Customers: {identity_service.count_customers(session):,}, with {report.events:,} "
        f"events over the last {DAYS} days ({per_channel})."
    )
    lines.append(
        f"Orders: {order_plan.count('web') + order_plan.count('app'):,} from the web shop and "
        f"the app (delivery and click & collect), {order_plan.count('store'):,} till receipts, "
        f"{order_plan.count('agent')} by an agent; 60 products with stock in every store."
    )
    granted, refused = _consent_counts(session)
    lines.append(
        f"Consent: {granted:,} customers accepted marketing messages, {refused:,} refused some. "
        f"Shared kiosk in Milano: {len(plan.kiosk_emails)} customers, kept apart."
    )
    if plan.review_email and plan.review_device:
        customer = identity_service.find_by_identifier(
            session, normalise(EMAIL, plan.review_email, region=region)
        )
        person = people[0]
        lines.append(
            f"To review: {person.name} (customer {customer}) absorbed a family tablet through a "
            "shared e-mail; undo that merge from the customer's page."
        )
    return "\n".join(lines)


def _consent_counts(session: Session) -> tuple[int, int]:
    def count(granted: bool) -> int:
        return len(
            set(
                session.scalars(
                    select(Profile.canonical_id)
                    .join(ConsentEntry, ConsentEntry.profile_id == Profile.id)
                    .where(ConsentEntry.granted.is_(granted))
                )
            )
        )

    return count(True), count(False)
