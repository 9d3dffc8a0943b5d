"""`phygital demo`: customers and 90 days of web, app and store activity, through the real
ingestion path, with the scenarios the product has to handle."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from phygital.commerce.demo import DEMO_CATALOGUE
from phygital.core.clock import FrozenClock
from phygital.demo import DEMO_SEED, build_demo
from phygital.identity import service as identity_service
from phygital.identity.demo import make_people
from phygital.identity.identifiers import EMAIL, normalise
from phygital.identity.models import Identifier, MergeRecord, Profile
from phygital.privacy.models import ConsentEntry
from phygital.tracking.demo import KIOSK_ID, ActivityPlan, plan_activity
from phygital.tracking.models import Event, Source
from tests.cli.conftest import Cli, one_error_line

SMALL = 60


def plan_for(count: int, clock: FrozenClock) -> ActivityPlan:
    """The plan `build_demo` follows (same seed, same now)."""
    rng = random.Random(DEMO_SEED)
    return plan_activity(make_people(count, rng), now=clock.now(), rng=rng)


@pytest.fixture
def demo(db: Session, clock: FrozenClock) -> tuple[str, ActivityPlan]:
    summary = build_demo(db, customers=SMALL, password="demo-password-123", clock=clock)
    db.commit()
    return summary, plan_for(SMALL, clock)


def root_of_message(db: Session, message_id: str) -> str:
    profile_id = db.scalar(select(Event.profile_id).where(Event.message_id == message_id))
    assert profile_id is not None, message_id
    return identity_service.root_id(db, profile_id)


def test_the_demo_has_the_customers_asked_for_and_their_activity(
    db: Session, demo: tuple[str, ActivityPlan], clock: FrozenClock
) -> None:
    summary, plan = demo
    assert identity_service.count_customers(db) == SMALL
    assert f"Customers: {SMALL}," in summary
    sources = {s.name: s.channel for s in db.scalars(select(Source))}
    assert sources == {
        "Sito web": "web",
        "App Velò": "app",
        "Cassa MI": "store",
        "Cassa TO": "store",
        "Cassa BO": "store",
    }
    events = db.scalar(select(func.count()).select_from(Event))
    assert events == len(plan.messages) > SMALL * 10
    assert set(db.scalars(select(Event.channel).distinct())) == {"web", "app", "store"}
    assert set(db.scalars(select(Event.type).distinct())) == {"page", "screen", "track", "identify"}
    names = set(db.scalars(select(Event.name).where(Event.type == "track").distinct()))
    assert names == {"Product Viewed", "Product Added", "Product Tried"}
    skus = set(db.scalars(select(Event.sku).where(Event.sku.is_not(None)).distinct()))
    assert skus <= {p.sku for p in DEMO_CATALOGUE} and len(skus) > 20
    now = clock.now()
    first, last = db.execute(select(func.min(Event.event_at), func.max(Event.event_at))).one()
    assert now - timedelta(days=91) < first and last < now
    assert not db.scalar(select(func.count()).where(Event.received_at < Event.event_at))
    profiles_first_seen = db.scalar(select(func.min(Profile.created_at)))
    assert profiles_first_seen is not None and profiles_first_seen < now - timedelta(days=80)
    # Every customer is someone: a name and a strong identifier.
    for customer in identity_service.load_customers(
        db,
        list(db.scalars(select(Profile.id).where(Profile.id == Profile.canonical_id))),
    ).values():
        assert customer.name, customer.id
        assert any(i.kind != "anonymous_id" for i in customer.identifiers), customer.id


def test_identifiers_are_stored_normalised(db: Session, demo: tuple[str, ActivityPlan]) -> None:
    phones = list(db.scalars(select(Identifier.value).where(Identifier.kind == "phone")))
    assert phones and all(p.startswith("+3930") and len(p) == 13 for p in phones)
    emails = list(db.scalars(select(Identifier.value).where(Identifier.kind == "email")))
    assert emails and all(e == e.lower() and e.endswith(".example") for e in emails)
    cards = list(db.scalars(select(Identifier.value).where(Identifier.kind == "loyalty_card")))
    assert cards and all(c.startswith("VB-") for c in cards)


def test_anonymous_browsing_joins_the_customer_once_identified(
    db: Session, demo: tuple[str, ActivityPlan]
) -> None:
    _, plan = demo
    checked = 0
    by_device: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for planned in sorted(plan.messages, key=lambda p: p.at):
        device = planned.message.get("anonymousId", "")
        if planned.source == "Sito web" and device != KIOSK_ID:
            by_device.setdefault(device, []).append(planned.message)
    for messages in by_device.values():
        kinds = [m["type"] for m in messages]
        if "identify" not in kinds or kinds.index("identify") == 0:
            continue
        identify = messages[kinds.index("identify")]
        anonymous = messages[0]
        assert "userId" not in anonymous and "traits" not in anonymous
        customer = root_of_message(db, identify["messageId"])
        assert root_of_message(db, anonymous["messageId"]) == customer
        later = messages[-1]
        assert root_of_message(db, later["messageId"]) == customer
        checked += 1
    assert checked >= 10


def test_the_milano_kiosk_keeps_its_shoppers_apart(
    db: Session, demo: tuple[str, ActivityPlan]
) -> None:
    _, plan = demo
    assert len(plan.kiosk_emails) >= 3
    owners = list(
        db.scalars(
            select(Identifier.profile_id).where(Identifier.key == f"anonymous_id:{KIOSK_ID}")
        )
    )
    assert len(owners) == 1
    roots = set()
    for email in plan.kiosk_emails:
        root = identity_service.find_by_identifier(db, normalise(EMAIL, email, region="IT"))
        assert root is not None
        roots.add(root)
    assert len(roots) == len(plan.kiosk_emails)
    kiosk_messages = [p.message for p in plan.messages if p.message.get("anonymousId") == KIOSK_ID]
    for message in kiosk_messages:
        email = (message.get("context", {}).get("traits") or message.get("traits"))["email"]
        expected = identity_service.find_by_identifier(db, normalise(EMAIL, email, region="IT"))
        assert root_of_message(db, message["messageId"]) == expected
    channels = set(
        db.scalars(
            select(Event.channel).where(
                Event.message_id.in_([m["messageId"] for m in kiosk_messages])
            )
        )
    )
    assert channels == {"store"}


def test_consent_was_given_and_refused_with_its_wording(
    db: Session, demo: tuple[str, ActivityPlan]
) -> None:
    summary, _ = demo
    entries = list(db.scalars(select(ConsentEntry)))
    assert {e.granted for e in entries} == {True, False}
    assert {e.channel for e in entries} == {"email", "whatsapp"}
    assert {e.purpose for e in entries} == {"marketing"}
    assert all(e.wording and e.source.startswith("tracking:") for e in entries)
    assert {e.source for e in entries} >= {"tracking:Sito web", "tracking:Cassa MI"}
    assert "accepted marketing messages" in summary and "refused" in summary


def test_the_merge_to_review_can_be_undone(
    db: Session, demo: tuple[str, ActivityPlan], clock: FrozenClock
) -> None:
    summary, plan = demo
    assert plan.review_email and plan.review_device
    paolo = identity_service.find_by_identifier(
        db, normalise(EMAIL, plan.review_email, region="IT")
    )
    assert paolo is not None
    assert f"To review: Paolo Galli (customer {paolo})" in summary
    tablet = db.scalar(
        select(Identifier.profile_id).where(Identifier.key == f"anonymous_id:{plan.review_device}")
    )
    assert tablet is not None and tablet != paolo
    merged = db.get(Profile, tablet)
    assert merged is not None and merged.canonical_id == paolo and merged.merged_into_id
    record = db.scalar(select(MergeRecord).where(MergeRecord.merged_id == tablet))
    assert record is not None and record.cause == "event" and record.undone_at is None
    tablet_events = merged.events_count
    assert tablet_events >= 10

    identity_service.unmerge(db, clock=clock, customer_id=paolo, other_id=tablet, by="manager")
    db.commit()
    assert identity_service.count_customers(db) == SMALL + 1
    restored = identity_service.get_customer(db, tablet)
    assert restored.id == tablet and restored.events == tablet_events
    assert [i.kind for i in restored.identifiers] == ["anonymous_id"]
    assert identity_service.get_customer(db, paolo).first("email") == plan.review_email.lower()


def test_the_plan_is_the_same_on_every_run_and_relative_to_now(clock: FrozenClock) -> None:
    first, second = plan_for(40, clock), plan_for(40, clock)
    assert first == second
    for now in (clock.now(), clock.now() + timedelta(days=200, hours=5)):
        times = [p.at for p in plan_for(40, FrozenClock(now)).messages]
        assert now - timedelta(days=91) < min(times) and max(times) <= now - timedelta(minutes=9)


def test_demo_prints_login_lines_and_the_summary(cli: Cli, db: Session) -> None:
    result = cli("demo", "--customers", "40", "--password", "demo-password-123")
    assert result.code == 0, result.stderr
    out = result.stdout
    assert "titolare@velo.example" in out and "demo-password-123" in out
    assert "Customers: 40, with " in out and "events over the last 90 days" in out
    assert "Sito web" in out and "App Velò" in out and "Cassa MI" in out
    assert "Shared kiosk in Milano" in out and "To review: Paolo Galli" in out
    assert identity_service.count_customers(db) == 40


def test_demo_with_no_customers_still_sets_up_the_sources(cli: Cli, db: Session) -> None:
    result = cli("demo", "--customers", "0", "--password", "demo-password-123")
    assert result.code == 0, result.stderr
    assert "no customers" in result.stdout
    assert db.scalar(select(func.count()).select_from(Source)) == 5
    assert db.scalar(select(func.count()).select_from(Profile)) == 0


def test_demo_refuses_a_database_with_sources_or_customers(
    cli: Cli, db: Session, clock: FrozenClock
) -> None:
    assert cli("source", "create", "Sito web", "--channel", "web").code == 0
    assert "not empty" in one_error_line(cli("demo", "--customers", "5"))
    db.execute(Source.__table__.delete())
    db.commit()
    identity_service.create_customer(
        db, clock=clock, region="IT", traits={}, identifiers=[("email", "a@example.com")]
    )
    db.commit()
    assert "not empty" in one_error_line(cli("demo", "--customers", "5"))
    assert db.scalar(select(func.count()).select_from(Source)) == 0


def test_people_are_unique_and_realistic() -> None:
    people = make_people(500, random.Random(1))
    emails = [normalise(EMAIL, p.email, region="IT") for p in people if p.email]
    assert len(emails) == len(set(emails))
    phones = [normalise("phone", p.phone, region="IT") for p in people if p.phone]
    assert len(phones) == len(set(phones))
    cards = [p.loyalty_card for p in people if p.loyalty_card]
    assert len(cards) == len(set(cards))
    assert all(p.web or p.app or p.store for p in people)
    assert all(p.email or p.phone or p.loyalty_card for p in people)
    assert people[0].name == "Paolo Galli" and people[0].review_merge
    assert sum(p.kiosk for p in people) == 5
    assert {p.home_store for p in people} == {"MI", "TO", "BO"}
