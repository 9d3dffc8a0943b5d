"""What one session on each touchpoint sends: a web visit, an app session, a store visit with
its till, the Milano kiosk; with the planner's clock (opening hours, online hours) and the
messages it writes."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from phygital.commerce.demo import (
    CATEGORY_PAGES,
    DEMO_CATALOGUE,
    DEMO_STORES,
    DemoProduct,
    demo_opening_hours,
)
from phygital.identity.demo import DemoPerson
from phygital.tracking.demo.activity import ActivityPlan, Interaction, Planned
from phygital.tracking.demo.sources import APP, KIOSK_ID, SITE, TZ, WEB

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

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


class _Touchpoints:
    """The planner's state and clock, the messages it writes, and one session on each
    touchpoint; `planner._Planner` adds who does what, and when."""

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


def _page(path: str, title: str) -> dict[str, Any]:
    return {"path": path, "url": f"{SITE}{path}", "title": title}
