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
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from phygital.commerce.demo import (
    CATEGORY_PAGES,
    DEMO_CATALOGUE,
    DEMO_STORES,
    DemoProduct,
    demo_opening_hours,
)
from phygital.core.clock import FrozenClock
from phygital.identity.demo import DemoPerson, device_id
from phygital.tracking import service
from phygital.tracking.messages import parse_body
from phygital.tracking.models import Channel, Source

WEB = "Sito web"
APP = "App Velò"
DEMO_SOURCES = (
    (WEB, Channel.WEB),
    (APP, Channel.APP),
    *((f"Cassa {s.code}", Channel.STORE) for s in DEMO_STORES),
)
DAYS = 90
SITE = "https://www.velobici.example"
KIOSK_ID = "kiosk-mi-navigli-01"
TZ = ZoneInfo("Europe/Rome")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_BATCH = 500  # messages per ingest call, as an SDK would send them

WORDING = {
    WEB: (
        "Iscrivendomi accetto di ricevere da Velò Bici offerte e novità via e-mail e, se ho dato "
        "il numero, via WhatsApp. Informativa privacy v3 (art. 13 GDPR)."
    ),
    APP: "App Velò, impostazioni > notifiche: offerte via e-mail e WhatsApp (informativa v3).",
    "store": (
        "Modulo carta fedeltà Velò v2, firmato in negozio: consenso a offerte via e-mail e "
        "WhatsApp."
    ),
}

_WEB_CONTEXT = {
    "library": {"name": "analytics.js", "version": "5.2.0"},
    "locale": "it-IT",
    "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0",
}
_MOBILE_CONTEXT = {
    "library": {"name": "analytics.js", "version": "5.2.0"},
    "locale": "it-IT",
    "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari/604.1",
}
_APP_CONTEXT = {
    "library": {"name": "analytics-swift", "version": "1.6.1"},
    "app": {"name": "Velò", "version": "3.4.0", "build": "340"},
    "locale": "it-IT",
}
_TILL_CONTEXT = {"library": {"name": "analytics-python", "version": "2.4.0"}}


@dataclass(frozen=True)
class Planned:
    """One message a touchpoint sends, at its event time."""

    at: datetime
    source: str
    message: dict[str, Any]


@dataclass(frozen=True)
class Interaction:
    """A product a demo person met: viewed online, or tried (or viewed on the kiosk) in a store.
    Commerce's demo plans purchases from these, so journeys have something to find."""

    at: datetime
    sku: str
    online: bool
    store: str | None = None


@dataclass
class ActivityPlan:
    messages: list[Planned] = field(default_factory=list)
    # Per person (DemoPerson.index): the products they met, in the order planned.
    interactions: dict[int, list[Interaction]] = field(default_factory=dict)
    kiosk_emails: list[str] = field(default_factory=list)
    review_email: str | None = None
    review_device: str | None = None  # the family tablet merged into the reviewed customer


def create_sources(session: Session, *, at: datetime) -> dict[str, Source]:
    """The web site, the app and one till per store, created `at` (the start of the history)."""
    previous = session.info.get("clock")
    session.info["clock"] = FrozenClock(at)
    try:
        return {
            name: service.create_source(session, name=name, channel=channel)
            for name, channel in DEMO_SOURCES
        }
    finally:
        session.info["clock"] = previous


class _Planner:
    def __init__(self, rng: random.Random, now: datetime, days: int) -> None:
        self.rng = rng
        self.now = now.astimezone(UTC)
        self.today = self.now.astimezone(TZ).date()
        # Sessions start by then, so that even a long store visit ends before now.
        self.latest = self.now - timedelta(hours=2)
        self.days = days
        self.plan = ActivityPlan()
        self.hours = {s.code: demo_opening_hours(s.code) for s in DEMO_STORES}
        self.codes = tuple(self.hours)
        self.weights = [p.interest for p in DEMO_CATALOGUE]
        self.tryable = [p for p in DEMO_CATALOGUE if p.tried_in_store]
        self.identifies: list[tuple[datetime, str, dict[str, Any]]] = []
        self.current: int | None = None  # the person being planned

    # -- time -------------------------------------------------------------------------------

    def _local(self, day: date, hour: int, minute: int, second: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute, second), TZ).astimezone(UTC)

    def _days_ago(self, low: int = 0, high: int | None = None) -> int:
        return self.rng.randint(low, (high if high is not None else self.days - 1))

    def _online_days_ago(self) -> int:
        """Online sessions grow over the quarter (more of them in recent weeks than in the
        first), while store visits stay even: the channel mix moves online, as the seeds say
        it does."""
        return int((self.days - 1) * self.rng.random() ** 1.5)

    def _online_time(self, days_ago: int) -> datetime:
        day = self.today - timedelta(days=days_ago)
        hour = self.rng.choices(
            (7, 8, 12, 13, 16, 18, 19, 20, 21, 22, 23), (2, 3, 4, 4, 2, 4, 5, 7, 9, 7, 3)
        )[0]
        at = self._local(day, hour, self.rng.randint(0, 59), self.rng.randint(0, 59))
        while at > self.latest:  # today, later than now: the same time a day earlier
            at -= timedelta(days=1)
        return at

    def _store_time(self, code: str, days_ago: int) -> datetime:
        hours = self.hours[code]
        day = self.today - timedelta(days=days_ago)
        for _ in range(8):
            shifts = hours.get(_WEEKDAYS[day.weekday()])
            if shifts:
                start, end = self.rng.choice(shifts)
                h0, m0 = (int(x) for x in start.split(":"))
                h1, m1 = (int(x) for x in end.split(":"))
                minute = self.rng.randint(h0 * 60 + m0, h1 * 60 + m1 - 60)
                at = self._local(day, minute // 60, minute % 60, self.rng.randint(0, 59))
                if at <= self.latest:
                    return at
            day -= timedelta(days=1)  # closed that day (or not yet open today): the day before
        raise AssertionError(f"store {code} is never open")

    # -- messages ---------------------------------------------------------------------------

    def _message_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def _add(self, source: str, at: datetime, message: dict[str, Any]) -> dict[str, Any]:
        assert at < self.now, "a demo event in the future"
        message["timestamp"] = at.isoformat()
        message["messageId"] = self._message_id()
        self.plan.messages.append(Planned(at, source, message))
        props = message.get("properties") or {}
        if message["type"] == "track" and props.get("sku") and self.current is not None:
            in_store = source.startswith("Cassa") or message["context"].get("channel") == "store"
            self.plan.interactions.setdefault(self.current, []).append(
                Interaction(at, props["sku"], online=not in_store, store=props.get("store"))
            )
        return message

    def _pick(
        self, wishes: list[DemoProduct], pool: list[DemoProduct] | None = None
    ) -> DemoProduct:
        if wishes and self.rng.random() < 0.7:
            return self.rng.choice(wishes)
        if pool is not None:
            return self.rng.choice(pool)
        return self.rng.choices(DEMO_CATALOGUE, self.weights)[0]

    @staticmethod
    def _product(p: DemoProduct, **extra: Any) -> dict[str, Any]:
        return {
            "sku": p.sku,
            "name": p.name,
            "category": p.category,
            "price": float(p.price),
            "currency": "EUR",
            **extra,
        }

    def _identify_traits(self, person: DemoPerson, *, phone: bool) -> dict[str, Any]:
        traits: dict[str, Any] = {"firstName": person.first_name, "lastName": person.last_name}
        if person.email:
            traits["email"] = person.email
        if phone and person.phone:
            traits["phone"] = person.phone
        return traits

    # -- channels ---------------------------------------------------------------------------

    def web_session(
        self,
        person: DemoPerson,
        device: str,
        start: datetime,
        wishes: list[DemoProduct],
        *,
        identify: str | None,  # "login", "newsletter" or None
        logged_in: bool,
        mobile: bool,
    ) -> None:
        context = _MOBILE_CONTEXT if mobile else _WEB_CONTEXT
        at = start
        user_id = person.user_id if logged_in else None

        def base(kind: str) -> dict[str, Any]:
            msg: dict[str, Any] = {"type": kind, "anonymousId": device, "context": dict(context)}
            if user_id:
                msg["userId"] = user_id
            return msg

        def step(low: int, high: int) -> datetime:
            nonlocal at
            at += timedelta(seconds=self.rng.randint(low, high))
            return at

        if self.rng.random() < 0.5:
            category = self._pick(wishes).category
            path, title = (
                ("/", "Velò Bici") if self.rng.random() < 0.5 else CATEGORY_PAGES[category]
            )
            self._add(WEB, at, {**base("page"), "name": title, "properties": _page(path, title)})
            step(10, 60)
        views = self.rng.choices((1, 2, 3, 4), (4, 4, 2, 1))[0]
        identify_after = self.rng.randint(0, views - 1) if identify else -1
        last: DemoProduct | None = None
        for n in range(views):
            product = self._pick(wishes)
            last = product
            path = f"/prodotti/{product.slug}"
            props = {**_page(path, product.name), "sku": product.sku}
            self._add(WEB, at, {**base("page"), "name": product.name, "properties": props})
            self._add(
                WEB,
                step(2, 8),
                {**base("track"), "event": "Product Viewed", "properties": self._product(product)},
            )
            step(20, 150)
            if n == identify_after and identify:
                if identify == "login" and person.user_id:
                    user_id = person.user_id
                    traits = self._identify_traits(person, phone=self.rng.random() < 0.5)
                else:  # the newsletter form: e-mail and, when typed, a first name
                    traits = {"email": person.email}
                    if person.first_name:
                        traits["firstName"] = person.first_name
                msg = self._add(WEB, at, {**base("identify"), "traits": traits})
                self.identifies.append((at, WEB, msg))
                step(5, 40)
        if last is not None and self.rng.random() < 0.25:
            self._add(
                WEB,
                at,
                {
                    **base("track"),
                    "event": "Product Added",
                    "properties": self._product(last, quantity=1),
                },
            )

    def app_session(
        self, person: DemoPerson, start: datetime, wishes: list[DemoProduct], *, login: bool
    ) -> None:
        assert person.app_device is not None
        at = start
        device = person.app_device

        def base(kind: str, *, known: bool) -> dict[str, Any]:
            msg: dict[str, Any] = {
                "type": kind,
                "anonymousId": device,
                "context": dict(_APP_CONTEXT),
            }
            if known and person.user_id:
                msg["userId"] = person.user_id
            return msg

        known = not login
        self._add(APP, at, {**base("screen", known=known), "name": "Home"})
        at += timedelta(seconds=self.rng.randint(5, 40))
        if login:
            traits = self._identify_traits(person, phone=True)
            msg = self._add(APP, at, {**base("identify", known=True), "traits": traits})
            self.identifies.append((at, APP, msg))
            known = True
            at += timedelta(seconds=self.rng.randint(5, 30))
        product: DemoProduct | None = None
        for _ in range(self.rng.choices((1, 2, 3), (5, 3, 2))[0]):
            product = self._pick(wishes)
            props = {"sku": product.sku, "name": product.name}
            self._add(
                APP,
                at,
                {**base("screen", known=known), "name": "Scheda prodotto", "properties": props},
            )
            at += timedelta(seconds=self.rng.randint(2, 6))
            self._add(
                APP,
                at,
                {
                    **base("track", known=known),
                    "event": "Product Viewed",
                    "properties": self._product(product),
                },
            )
            at += timedelta(seconds=self.rng.randint(20, 120))
        if product is not None and self.rng.random() < 0.3:
            self._add(
                APP,
                at,
                {
                    **base("track", known=known),
                    "event": "Product Added",
                    "properties": self._product(product, quantity=1),
                },
            )

    def store_visit(
        self, person: DemoPerson, code: str, start: datetime, wishes: list[DemoProduct], *,
        register: bool,
    ) -> None:  # fmt: skip
        source = f"Cassa {code}"
        at = start
        visit = f"till-{code.lower()}-{self.rng.getrandbits(48):012x}"
        if register:
            traits = self._identify_traits(person, phone=True)
            if person.loyalty_card:
                traits["loyalty_card"] = person.loyalty_card
            msg = self._add(
                source,
                at,
                {
                    "type": "identify",
                    "anonymousId": visit,
                    "traits": traits,
                    "context": dict(_TILL_CONTEXT),
                },
            )
            self.identifies.append((at, "store", msg))
            at += timedelta(minutes=self.rng.randint(1, 4))
        # The seller recognises the customer by card, else phone, else e-mail.
        who: dict[str, Any]
        if person.loyalty_card:
            who = {"loyalty_card": person.loyalty_card}
        elif person.phone:
            who = {"phone": person.phone}
        else:
            who = {"email": person.email}
        tried_wishes = [p for p in wishes if p.tried_in_store]
        for _ in range(self.rng.choices((1, 2, 3), (4, 3, 1))[0]):
            product = self._pick(tried_wishes, self.tryable)
            self._add(
                source,
                at,
                {
                    "type": "track",
                    "anonymousId": visit,
                    "event": "Product Tried",
                    "properties": self._product(product, store=code),
                    "context": {**_TILL_CONTEXT, "traits": who},
                },
            )
            at += timedelta(minutes=self.rng.randint(3, 15))

    def kiosk_session(self, person: DemoPerson, start: datetime) -> None:
        """The Milano kiosk runs the web site on a shared tablet: events count as in-store, and
        each carries the e-mail its user typed to save a wish list."""
        at = start
        email = person.email
        assert email is not None
        context = {**_MOBILE_CONTEXT, "channel": "store", "traits": {"email": email}}
        msg = self._add(
            WEB,
            at,
            {
                "type": "identify",
                "anonymousId": KIOSK_ID,
                "traits": {"email": email, "firstName": person.first_name},
                "context": {**_MOBILE_CONTEXT, "channel": "store"},
            },
        )
        self.identifies.append((at, WEB, msg))
        for _ in range(self.rng.randint(2, 3)):
            at += timedelta(seconds=self.rng.randint(30, 180))
            product = self.rng.choice(self.tryable)
            self._add(
                WEB,
                at,
                {
                    "type": "track",
                    "anonymousId": KIOSK_ID,
                    "event": "Product Viewed",
                    "properties": self._product(product, store="MI"),
                    "context": context,
                },
            )
        self.plan.kiosk_emails.append(email)

    # -- people -----------------------------------------------------------------------------

    def person(self, p: DemoPerson) -> None:
        self.current = p.index
        wishes = list(
            dict.fromkeys(self.rng.choices(DEMO_CATALOGUE, self.weights, k=self.rng.randint(2, 4)))
        )
        self.identifies = []
        if p.store:
            visits = sorted(
                {self._days_ago() for _ in range(self.rng.choices((1, 2, 3, 4), (4, 4, 2, 1))[0])},
                reverse=True,
            )
            if p.review_merge:
                visits = sorted({84, *(v for v in visits if v < 84)}, reverse=True)
            for n, days_ago in enumerate(visits):
                code = p.home_store if self.rng.random() < 0.9 else self.rng.choice(self.codes)
                self.store_visit(p, code, self._store_time(code, days_ago), wishes, register=n == 0)
        for d, device in enumerate(p.web_devices):
            count = self.rng.randint(2, 8) if d == 0 else self.rng.randint(1, 3)
            sessions = sorted({self._online_days_ago() for _ in range(count)}, reverse=True)
            identify_at = self.rng.randint(0, min(2, len(sessions) - 1))
            if p.review_merge and d == 0:
                # His e-mail is known long before the family tablet shows up, so the tablet's
                # profile is the one merged away (whatever order the sources are read in).
                sessions = sorted({86, *sessions}, reverse=True)
                identify_at = 0
            mobile = d == 1 or self.rng.random() < 0.4
            for n, days_ago in enumerate(sessions):
                self.web_session(
                    p,
                    device,
                    self._online_time(days_ago),
                    wishes,
                    identify=("login" if p.user_id else "newsletter") if n == identify_at else None,
                    logged_in=bool(p.user_id) and n > identify_at,
                    mobile=mobile,
                )
        if p.app and p.app_device:
            sessions = sorted(
                {self._online_days_ago() for _ in range(self.rng.randint(3, 12))}, reverse=True
            )
            for n, days_ago in enumerate(sessions):
                self.app_session(p, self._online_time(days_ago), wishes, login=n == 0)
        if p.kiosk:
            self.kiosk_session(p, self._store_time("MI", self._days_ago(1, 60)))
        if p.review_merge:
            self.family_tablet(p)
        self._attach_consent(p)

    def family_tablet(self, p: DemoPerson) -> None:
        """Weeks of anonymous browsing on a family tablet (city bikes for her, a child seat),
        then a newsletter sign-up with the husband's e-mail: the tablet's profile is merged into
        his. The manager learns the e-mail was not hers and undoes the merge."""
        tablet = device_id(self.rng)
        by_sku = {x.sku: x for x in DEMO_CATALOGUE}
        wishes = [by_sku[s] for s in ("CB-MILANO-D", "AC-SEAT-KIDS", "AC-BASKET-FRONT")]
        # She signs up with his e-mail and no name: nothing of hers overwrites his traits.
        plain = DemoPerson(**{**p.__dict__, "user_id": None, "first_name": ""})
        for days_ago in (58, 52, 47, 41, 36, 31):
            self.web_session(
                plain,
                tablet,
                self._online_time(days_ago),
                wishes,
                identify=None,
                logged_in=False,
                mobile=True,
            )
        self.web_session(
            plain,
            tablet,
            self._online_time(27),
            wishes,
            identify="newsletter",
            logged_in=False,
            mobile=True,
        )
        self.identifies.pop()  # her sign-up is not where his consent was given
        for days_ago in (20, 12, 5):
            self.web_session(
                plain,
                tablet,
                self._online_time(days_ago),
                wishes,
                identify=None,
                logged_in=False,
                mobile=True,
            )
        self.plan.review_email = p.email
        self.plan.review_device = tablet

    def _attach_consent(self, p: DemoPerson) -> None:
        """Consent is asked once, at the person's first sign-up, on whichever channel."""
        asked = [i for i in self.identifies if i[2]["anonymousId"] != KIOSK_ID]  # kiosk: no
        if not asked or (p.consent_email is None and p.consent_whatsapp is None):
            return
        _, where, message = min(asked, key=lambda item: item[0])
        marketing = {}
        if p.consent_email is not None:
            marketing["email"] = p.consent_email
        if p.consent_whatsapp is not None:
            marketing["whatsapp"] = p.consent_whatsapp
        message["context"] = {
            **message.get("context", {}),
            "consent": {"marketing": marketing, "wording": WORDING[where]},
        }


def _page(path: str, title: str) -> dict[str, Any]:
    return {"path": path, "url": f"{SITE}{path}", "title": title}


def plan_activity(
    people: Iterable[DemoPerson], *, now: datetime, rng: random.Random, days: int = DAYS
) -> ActivityPlan:
    """Every message the touchpoints send over the last `days` for these people (pure)."""
    planner = _Planner(rng, now, days)
    for person in people:
        planner.person(person)
    return planner.plan


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
