"""Planning the activity of the demo people: who visits which touchpoint and when, the family
tablet merged into the wrong customer, and where each person's consent is given."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime

from phygital.commerce.demo import DEMO_CATALOGUE
from phygital.identity.demo import DemoPerson, device_id
from phygital.tracking.demo.activity import ActivityPlan
from phygital.tracking.demo.sources import DAYS, KIOSK_ID, WORDING
from phygital.tracking.demo.touchpoints import _Touchpoints


class _Planner(_Touchpoints):
    """The whole plan: each person's sessions on the touchpoints, in the order `person` draws
    them from the seeded generator (the same people and seed give the same plan)."""

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


def plan_activity(
    people: Iterable[DemoPerson], *, now: datetime, rng: random.Random, days: int = DAYS
) -> ActivityPlan:
    """Every message the touchpoints send over the last `days` for these people (pure)."""
    planner = _Planner(rng, now, days)
    for person in people:
        planner.person(person)
    return planner.plan
