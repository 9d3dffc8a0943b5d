"""A ready pickup tells its customer: the channel chosen under their consent, the message in their
language, and the durable job that delivers it to a real SMTP server (aiosmtpd), retries when the
server is down, gives up on a permanent refusal and never mails twice."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from phygital.commerce import notifications, orders
from phygital.commerce import service as commerce_service
from phygital.commerce.models import Notification, NotificationStatus, OrderOrigin
from phygital.commerce.notifications import channels
from phygital.commerce.schemas import OrderCreate, StoreCreate, StoreExceptionIn
from phygital.config import Settings
from phygital.core import jobs, mail
from phygital.core.clock import FrozenClock
from phygital.core.jobs import Worker
from phygital.core.models import Job, JobStatus
from phygital.db import transaction
from phygital.privacy import consent
from tests.commerce.test_mail import Inbox, SmtpServer, free_port

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

SENDER = "Milano Centro <no-reply@shop.example>"
WEEKDAYS = [("09:00", "13:00"), ("15:00", "19:00")]
HOURS = {day: WEEKDAYS for day in ("mon", "tue", "wed", "thu", "fri", "sat")}


# -- arranging ----------------------------------------------------------------------------------


def make_store(db: Session, code: str = "MI", name: str = "Milano Centro") -> str:
    store = commerce_service.create_store(
        db,
        data=StoreCreate.model_validate(
            {
                "code": code,
                "name": name,
                "address": "Via Dante 5, 20121 Milano",
                "timezone": "Europe/Rome",
                "opening_hours": HOURS,
                "email": "milano@shop.example",
                "phone": "+39 02 1234567",
            }
        ),
    )
    db.commit()
    return store.id


def place_pickup(
    db: Session,
    clock: FrozenClock,
    *,
    number: str = "1043",
    store: str = "MI",
    traits: dict[str, Any] | None = None,
    email: str | None = "maria@example.com",
    phone: str | None = None,
) -> str:
    identifiers = [{"kind": k, "value": v} for k, v in (("email", email), ("phone", phone)) if v]
    item = OrderCreate.model_validate(
        {
            "external_id": number,
            "channel": "web",
            "placed_at": clock.now().isoformat(),
            "customer": {
                "traits": {"name": "Maria Bianchi"} if traits is None else traits,
                "identifiers": identifiers,
            },
            "fulfilment": "pickup",
            "store": store,
            "label": f"#{number}",
            "lines": [
                {"sku": "SHOE-1", "name": "Scarpa running", "quantity": 2, "unit_price": "59.90"},
                {"sku": "SOCK-1", "name": "Calze tecniche", "quantity": 1, "unit_price": "9.90"},
            ],
        }
    )
    [saved] = orders.save_orders(db, clock=clock, region="IT", origin=OrderOrigin.API, items=[item])
    db.commit()
    return saved.order_id


def ready(db: Session, clock: FrozenClock, order_id: str) -> None:
    orders.mark_ready(db, clock=clock, order=orders.get_order(db, order_id))
    db.commit()


def refuse_service_email(db: Session, clock: FrozenClock, order_id: str) -> None:
    profile_id = orders.get_order(db, order_id).profile_id
    assert profile_id is not None
    consent.record(
        db,
        clock=clock,
        profile_id=profile_id,
        statements=[
            consent.ConsentStatement(
                "service", "email", False, clock.now() - timedelta(minutes=1), "test"
            )
        ],
    )
    db.commit()


def with_smtp(settings: Settings, url: str | None) -> Settings:
    return settings.model_copy(update={"smtp_url": url, "mail_from": SENDER})


def run_jobs(
    session_factory: sessionmaker[Session], clock: FrozenClock, settings: Settings | None
) -> int:
    return Worker(session_factory, clock=clock, settings=settings).run_until_idle()


# -- checking (short sessions: on SQLite an open transaction would hold the write lock) ---------


def notes_of(session_factory: sessionmaker[Session], order_id: str) -> list[Notification]:
    with session_factory() as session:
        return list(session.scalars(select(Notification).where(Notification.order_id == order_id)))


def note_of(session_factory: sessionmaker[Session], order_id: str) -> Notification:
    [note] = notes_of(session_factory, order_id)
    return note


def send_jobs(session_factory: sessionmaker[Session]) -> list[Job]:
    with session_factory() as session:
        return list(session.scalars(select(Job).where(Job.name == notifications.SEND_JOB)))


def attempts(session_factory: sessionmaker[Session]) -> int:
    """How many times the send job has run."""
    return sum(j.attempts for j in send_jobs(session_factory))


def body_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


# -- delivered ----------------------------------------------------------------------------------


def test_ready_pickup_is_mailed_to_the_customer_in_italian(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    make_store(db)
    order_id = place_pickup(db, clock)
    ready(db, clock, order_id)
    queued = note_of(session_factory, order_id)
    assert (queued.status, queued.channel, queued.recipient) == (
        "queued",
        "email",
        "maria@example.com",
    )

    with SmtpServer() as server:
        run_jobs(session_factory, clock, with_smtp(settings, server.url()))

    [message] = server.messages
    assert message["From"] == SENDER
    assert message["To"] == "Maria Bianchi <maria@example.com>"
    assert message["Reply-To"] == "milano@shop.example"
    assert message["Subject"] == "Il tuo ordine #1043 è pronto per il ritiro da Milano Centro"
    body = body_of(message)
    assert body.startswith("Ciao Maria Bianchi,\n\nil tuo ordine #1043 è pronto")
    assert "Indirizzo: Via Dante 5, 20121 Milano" in body
    assert "fino a venerdì 27 novembre" in body
    assert "- venerdì 20 novembre: 09:00–13:00, 15:00–19:00" in body
    assert "- domenica 22 novembre: chiuso" in body
    assert "- 2 × Scarpa running, 119,80\u00a0€" in body  # Babel's no-break space
    assert "Totale: 129,70\u00a0€" in body
    assert "o chiamaci al +39 02 1234567" in body
    html = message.get_body(("html",))
    assert html is not None and '<html lang="it">' in html.get_content()

    sent = note_of(session_factory, order_id)
    assert sent.status == NotificationStatus.SENT
    assert sent.sent_at == clock.now()
    assert (sent.attempts, sent.last_error) == (1, None)
    assert message["Message-ID"] == f"<{sent.id}@shop.example>"
    assert body == sent.body  # what the outbox shows is what was sent
    assert [j.status for j in send_jobs(session_factory)] == [JobStatus.DONE]


def test_customer_who_speaks_english_gets_english(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    make_store(db)
    traits = {"first_name": "Mary", "last_name": "Smith", "locale": "en-GB"}
    order_id = place_pickup(db, clock, number="1044", traits=traits, email="mary@example.com")
    ready(db, clock, order_id)
    with SmtpServer() as server:
        run_jobs(session_factory, clock, with_smtp(settings, server.url()))

    [message] = server.messages
    assert message["To"] == "Mary Smith <mary@example.com>"
    assert message["Subject"] == "Your order #1044 is ready for pickup at Milano Centro"
    assert message["Content-Language"] == "en"
    body = body_of(message)
    assert body.startswith("Hello Mary,\n\nYour order #1044 is ready")
    assert "- Sunday 22 November: closed" in body
    assert "- 2 × Scarpa running, €119.80" in body
    assert note_of(session_factory, order_id).locale == "en"


def test_hours_in_the_message_follow_holidays_and_extra_openings(
    db: Session, clock: FrozenClock, session_factory: sessionmaker[Session]
) -> None:
    make_store(db)
    closed = StoreExceptionIn.model_validate({"shifts": [], "note": "Patrono"})
    sunday = StoreExceptionIn.model_validate({"shifts": [["10:00", "18:00"]], "note": "Natale"})
    commerce_service.set_exception(db, code="MI", day=date(2026, 11, 24), data=closed)
    commerce_service.set_exception(db, code="MI", day=date(2026, 11, 22), data=sunday)
    db.commit()
    order_id = place_pickup(db, clock)
    ready(db, clock, order_id)
    body = note_of(session_factory, order_id).body
    assert "- domenica 22 novembre: 10:00–18:00" in body
    assert "- martedì 24 novembre: chiuso" in body
    assert "- giovedì 26 novembre: 09:00–13:00, 15:00–19:00" in body
    assert "venerdì 27 novembre:" not in body  # seven days at most


@pytest.mark.parametrize(
    ("traits", "locale"),
    [
        ({"language": "EN_us"}, "en"),
        ({"locale": "it-IT"}, "it"),
        ({"locale": "fr"}, "it"),
        ({"locale": 7}, "it"),
        ({}, "it"),
    ],
)
def test_language_comes_from_the_customers_traits_else_italian(
    traits: dict[str, Any], locale: str
) -> None:
    from datetime import UTC, datetime

    from phygital.identity.service import Customer

    customer = Customer(
        id="c",
        created_at=datetime.now(UTC),
        member_ids=["c"],
        traits=traits,
        identifiers=[],
        orders=0,
        revenue=Decimal(0),
        events=0,
        first_seen_at=None,
        last_seen_at=None,
        channels=[],
    )
    assert notifications.customer_locale(customer) == locale


# -- failures -----------------------------------------------------------------------------------


def test_smtp_down_is_retried_with_backoff_and_delivers_exactly_once(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    make_store(db)
    order_id = place_pickup(db, clock)
    ready(db, clock, order_id)
    port = free_port()  # nobody listens here yet
    smtp = with_smtp(settings, f"smtp://127.0.0.1:{port}")

    run_jobs(session_factory, clock, smtp)
    waiting = note_of(session_factory, order_id)
    assert waiting.status == NotificationStatus.QUEUED
    assert waiting.attempts == 1
    assert waiting.last_error is not None
    assert waiting.last_error.startswith("retryable: ")
    assert "refused the connection" in waiting.last_error
    [job] = send_jobs(session_factory)
    assert (job.status, job.run_at) == (JobStatus.QUEUED, clock.now() + timedelta(seconds=10))

    with SmtpServer(port=port) as server:
        run_jobs(session_factory, clock, smtp)
        assert attempts(session_factory) == 1  # not before the backoff
        clock.advance(timedelta(seconds=11))
        run_jobs(session_factory, clock, smtp)
        assert attempts(session_factory) == 2
        clock.advance(timedelta(hours=1))
        run_jobs(session_factory, clock, smtp)

    assert len(server.messages) == 1
    sent = note_of(session_factory, order_id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, None)
    assert [j.status for j in send_jobs(session_factory)] == [JobStatus.DONE]


def test_recipient_refused_for_good_fails_without_retrying(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    make_store(db)
    order_id = place_pickup(db, clock)
    ready(db, clock, order_id)
    inbox = Inbox(refuse_rcpt="550 5.1.1 <maria@example.com>: mailbox unavailable")
    with SmtpServer(inbox=inbox) as server:
        smtp = with_smtp(settings, server.url())
        run_jobs(session_factory, clock, smtp)
        clock.advance(timedelta(days=1))
        run_jobs(session_factory, clock, smtp)
    assert server.messages == []
    failed = note_of(session_factory, order_id)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.last_error is not None
    assert failed.last_error.startswith("permanent: ")
    assert "550 5.1.1" in failed.last_error
    [job] = send_jobs(session_factory)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 1)


def test_a_server_that_keeps_deferring_is_given_up_after_the_last_attempt(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    make_store(db)
    order_id = place_pickup(db, clock)
    ready(db, clock, order_id)
    with SmtpServer(inbox=Inbox(refuse_rcpt="451 4.3.0 try again later")) as server:
        smtp = with_smtp(settings, server.url())
        for attempt in range(1, notifications.MAX_ATTEMPTS + 1):
            run_jobs(session_factory, clock, smtp)
            assert attempts(session_factory) == attempt
            clock.advance(timedelta(hours=1))
        run_jobs(session_factory, clock, smtp)
        assert attempts(session_factory) == notifications.MAX_ATTEMPTS
    failed = note_of(session_factory, order_id)
    assert (failed.status, failed.attempts) == ("failed", notifications.MAX_ATTEMPTS)
    assert failed.last_error is not None and "451 4.3.0" in failed.last_error
    assert [j.status for j in send_jobs(session_factory)] == [JobStatus.DEAD]


def test_a_failed_notification_sent_again_is_delivered(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    make_store(db)
    order_id = place_pickup(db, clock)
    ready(db, clock, order_id)
    inbox = Inbox(refuse_rcpt="550 5.7.1 relaying denied")
    with SmtpServer(inbox=inbox) as server:
        smtp = with_smtp(settings, server.url())
        run_jobs(session_factory, clock, smtp)
        assert note_of(session_factory, order_id).status == NotificationStatus.FAILED

        inbox.refuse_rcpt = None  # the server's configuration was fixed
        with transaction(session_factory) as session:
            note = notifications.get_notification(session, note_of(session_factory, order_id).id)
            notifications.retry(session, clock=clock, notification=note)
        assert note_of(session_factory, order_id).status == NotificationStatus.QUEUED
        run_jobs(session_factory, clock, smtp)

    assert len(server.messages) == 1
    sent = note_of(session_factory, order_id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, None)
    assert [j.status for j in send_jobs(session_factory)] == [JobStatus.DONE]


def test_only_a_failed_notification_can_be_retried(
    db: Session, clock: FrozenClock, session_factory: sessionmaker[Session]
) -> None:
    from phygital.core.errors import Conflict

    make_store(db)
    order_id = place_pickup(db, clock)
    ready(db, clock, order_id)
    with transaction(session_factory) as session:
        note = notifications.get_notification(session, note_of(session_factory, order_id).id)
        with pytest.raises(Conflict):
            notifications.retry(session, clock=clock, notification=note)
        with pytest.raises(Conflict):
            notifications.mark_sent_by_hand(session, clock=clock, notification=note, by="x")


# -- no transport, no channel -------------------------------------------------------------------


@pytest.mark.parametrize("configured", ["settings without SMTP", "no settings at all"])
def test_without_smtp_the_message_waits_in_the_outbox(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    session_factory: sessionmaker[Session],
    configured: str,
) -> None:
    make_store(db)
    order_id = place_pickup(db, clock)
    ready(db, clock, order_id)
    worker_settings = with_smtp(settings, None) if configured.startswith("settings") else None
    run_jobs(session_factory, clock, worker_settings)
    note = note_of(session_factory, order_id)
    assert (note.status, note.attempts, note.recipient) == ("outbox", 0, "maria@example.com")
    assert note.subject == "Il tuo ordine #1043 è pronto per il ritiro da Milano Centro"
    assert "Ciao Maria Bianchi," in note.body

    with transaction(session_factory) as session:
        note = notifications.get_notification(session, note.id)
        notifications.mark_sent_by_hand(session, clock=clock, notification=note, by="Manager")
    by_hand = note_of(session_factory, order_id)
    assert (by_hand.status, by_hand.sent_at) == ("sent", clock.now())


def test_customer_who_refused_service_emails_is_not_mailed(
    db: Session, clock: FrozenClock, session_factory: sessionmaker[Session]
) -> None:
    make_store(db)
    order_id = place_pickup(db, clock)
    refuse_service_email(db, clock, order_id)
    ready(db, clock, order_id)
    note = note_of(session_factory, order_id)
    assert note.status == NotificationStatus.SKIPPED
    assert note.last_error == notifications.EmailChannel.refused
    assert note.recipient is None
    assert send_jobs(session_factory) == []


def test_consent_withdrawn_before_the_job_runs_stops_the_message(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    make_store(db)
    order_id = place_pickup(db, clock)
    ready(db, clock, order_id)
    clock.advance(timedelta(minutes=2))
    refuse_service_email(db, clock, order_id)
    with SmtpServer() as server:
        run_jobs(session_factory, clock, with_smtp(settings, server.url()))
    assert server.messages == []
    note = note_of(session_factory, order_id)
    assert (note.status, note.last_error) == ("skipped", notifications.EmailChannel.refused)


def test_order_without_customer_is_skipped(
    db: Session, clock: FrozenClock, session_factory: sessionmaker[Session]
) -> None:
    make_store(db)
    order_id = place_pickup(db, clock, traits={}, email=None)
    ready(db, clock, order_id)
    note = note_of(session_factory, order_id)
    assert (note.status, note.last_error) == ("skipped", notifications.NO_CUSTOMER)
    assert send_jobs(session_factory) == []


def test_customer_without_an_email_address_is_skipped(
    db: Session, clock: FrozenClock, session_factory: sessionmaker[Session]
) -> None:
    make_store(db)
    order_id = place_pickup(db, clock, email=None, phone="+39 333 123 4567")
    ready(db, clock, order_id)
    note = note_of(session_factory, order_id)
    assert (note.status, note.last_error) == ("skipped", notifications.EmailChannel.no_address)
    assert "Ciao Maria Bianchi" in note.body  # written anyway: a person may phone and read it


def test_channels_are_tried_in_order_of_preference(
    db: Session, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Pigeon:
        name = "sms"  # a contact channel the consent ledger knows
        no_address = "no pigeon loft"
        refused = "refused pigeons"

        def address(self, customer: Any) -> str | None:
            return customer.first("phone")

        def configured(self, settings: Any) -> bool:
            return True

        def send(self, message: Any, *, settings: Any, at: Any) -> None:
            raise AssertionError("not sent in this test")

    make_store(db)
    order_id = place_pickup(db, clock, phone="+39 333 123 4567")
    # Where `choose_channel` reads it: the package only re-exports the list.
    monkeypatch.setattr(channels, "CHANNELS", [Pigeon(), notifications.EmailChannel()])
    ready(db, clock, order_id)
    with_phone = orders.get_order(db, order_id)
    first = notifications.pickup_ready(db, clock=clock, order=with_phone)
    assert (first.channel, first.recipient) == ("sms", "+393331234567")

    email_only = place_pickup(db, clock, number="1045", email="solo@example.com")
    ready(db, clock, email_only)
    assert (
        notifications.pickup_ready(db, clock=clock, order=orders.get_order(db, email_only)).channel
        == "email"
    )


# -- never twice --------------------------------------------------------------------------------


def test_a_second_ready_makes_no_second_notification(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    make_store(db)
    order_id = place_pickup(db, clock)
    ready(db, clock, order_id)
    ready(db, clock, order_id)
    again = notifications.pickup_ready(db, clock=clock, order=orders.get_order(db, order_id))
    db.commit()
    assert again.id == note_of(session_factory, order_id).id
    assert len(send_jobs(session_factory)) == 1
    with SmtpServer() as server:
        run_jobs(session_factory, clock, with_smtp(settings, server.url()))
    assert len(server.messages) == 1


def test_a_message_erased_before_its_job_runs_is_not_sent(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    make_store(db)
    order_id = place_pickup(db, clock)
    ready(db, clock, order_id)
    with transaction(session_factory) as session:  # what the customer's erasure does
        session.delete(session.get_one(Notification, note_of(session_factory, order_id).id))
    with SmtpServer() as server:
        run_jobs(session_factory, clock, with_smtp(settings, server.url()))
    assert server.messages == []
    assert [j.status for j in send_jobs(session_factory)] == [JobStatus.DONE]


def test_crash_after_sending_but_before_the_job_commits_does_not_mail_again(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_store(db)
    order_id = place_pickup(db, clock)
    ready(db, clock, order_id)
    real = jobs.registered_handlers()[notifications.SEND_JOB]

    def then_die(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
        real(ctx, payload)
        raise SystemExit("the worker was killed before its transaction committed")

    with SmtpServer() as server:
        smtp = with_smtp(settings, server.url())
        monkeypatch.setitem(jobs._HANDLERS, notifications.SEND_JOB, then_die)
        with pytest.raises(SystemExit):
            run_jobs(session_factory, clock, smtp)
        monkeypatch.setitem(jobs._HANDLERS, notifications.SEND_JOB, real)
        assert [j.status for j in send_jobs(session_factory)] == [JobStatus.RUNNING]

        clock.advance(timedelta(minutes=6))  # the dead worker's lease runs out
        run_jobs(session_factory, clock, smtp)

    assert len(server.messages) == 1
    assert note_of(session_factory, order_id).status == NotificationStatus.SENT
    assert [j.status for j in send_jobs(session_factory)] == [JobStatus.DONE]


def test_crash_while_sending_sends_again_and_says_so(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The one window left (the server accepted, we died before writing it down) gives a
    duplicate with the same Message-ID, never a lost message; the notification says so."""
    make_store(db)
    order_id = place_pickup(db, clock)
    ready(db, clock, order_id)
    real_send = mail.send

    def send_then_die(*args: Any) -> None:
        real_send(*args)
        raise SystemExit("killed right after the server's 250")

    with SmtpServer() as server:
        smtp = with_smtp(settings, server.url())
        monkeypatch.setattr(mail, "send", send_then_die)
        with pytest.raises(SystemExit):
            run_jobs(session_factory, clock, smtp)
        monkeypatch.setattr(mail, "send", real_send)
        assert note_of(session_factory, order_id).last_error == notifications.IN_FLIGHT

        clock.advance(timedelta(minutes=6))
        run_jobs(session_factory, clock, smtp)

    first, second = server.messages
    assert first["Message-ID"] == second["Message-ID"]
    note = note_of(session_factory, order_id)
    assert (note.status, note.attempts) == ("sent", 2)
    assert note.last_error == notifications.INTERRUPTED
