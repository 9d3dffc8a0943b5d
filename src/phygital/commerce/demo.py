"""The demo company's stores: a bike shop with three stores in northern Italy."""

from __future__ import annotations

from sqlalchemy.orm import Session

from phygital.commerce import service
from phygital.commerce.models import Store
from phygital.commerce.schemas import StoreCreate

_WEEKDAY_SPLIT = [("09:30", "13:00"), ("15:30", "19:30")]

DEMO_STORES = (
    StoreCreate(
        code="MI",
        name="Velò Milano Navigli",
        address="Ripa di Porta Ticinese 41, 20143 Milano MI",
        opening_hours={
            "mon": [("15:30", "19:30")],
            **{d: _WEEKDAY_SPLIT for d in ("tue", "wed", "thu", "fri")},
            "sat": [("09:30", "19:30")],
        },
    ),
    StoreCreate(
        code="TO",
        name="Velò Torino San Salvario",
        address="Via Madama Cristina 52, 10125 Torino TO",
        opening_hours={
            **{d: _WEEKDAY_SPLIT for d in ("tue", "wed", "thu", "fri", "sat")},
        },
    ),
    StoreCreate(
        code="BO",
        name="Velò Bologna Centro",
        address="Via San Vitale 27, 40125 Bologna BO",
        opening_hours={
            **{d: [("10:00", "19:00")] for d in ("mon", "tue", "wed", "thu", "fri", "sat")},
            "sun": [("10:00", "13:00")],
        },
    ),
)


def seed_stores(session: Session) -> list[Store]:
    return [service.create_store(session, data=data) for data in DEMO_STORES]
