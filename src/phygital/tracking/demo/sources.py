"""The demo company's touchpoints as tracking sources (the web site, the app, one till per
store), the constants of their activity and the consent wording each one shows."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from phygital.commerce.demo import DEMO_STORES
from phygital.core.clock import FrozenClock
from phygital.tracking import service
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
