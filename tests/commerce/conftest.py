"""Commerce test data: a Milan store with split shifts (Europe/Rome), a Turin store, products."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from phygital.commerce import service
from phygital.commerce.schemas import ProductCreate, StoreCreate

ROME = ZoneInfo("Europe/Rome")
SPLIT = [("09:00", "13:00"), ("15:30", "19:30")]

PRODUCTS = [
    ("BIKE-HELM-M-BLU", "Casco urbano blu M", "89.90", "caschi"),
    ("BIKE-LIGHT-USB", "Luce USB ricaricabile", "40.00", "luci"),
    ("BIKE-GLOVE-L", "Guanti L", "24.50", "accessori"),
    ("BOTTLE-TERM-750", "Borraccia termica 750 ml", "27.00", "accessori"),
]


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)  # type: ignore[misc]


@pytest.fixture
def shop(db: Session) -> dict[str, Any]:
    """Stores MI-BRERA ("Milano Brera", split shifts Tue-Sat, closed Sun-Mon, 60 min
    preparation) and TO-CENTRO, and four products."""
    milan = service.create_store(
        db,
        data=StoreCreate(
            code="MI-BRERA",
            name="Milano Brera",
            opening_hours={d: SPLIT for d in ("tue", "wed", "thu", "fri", "sat")},
            prep_minutes=60,
            hold_days=3,
        ),
    )
    turin = service.create_store(
        db,
        data=StoreCreate(
            code="TO-CENTRO",
            name="Torino Centro",
            opening_hours={d: [("10:00", "19:00")] for d in ("mon", "tue", "wed", "thu", "fri")},
        ),
    )
    for sku, name, price, category in PRODUCTS:
        service.create_product(
            db, data=ProductCreate(sku=sku, name=name, price=Decimal(price), category=category)
        )
    db.commit()
    return {"milan": milan.id, "turin": turin.id}


def order_body(
    external_id: str = "1001",
    *,
    channel: str = "web",
    placed_at: str = "2026-11-20T10:00:00+01:00",  # the test clock's now: Friday 10:00
    fulfilment: str | None = "pickup",
    store: str | None = "MI-BRERA",
    email: str | None = "giulia.bianchi@example.it",
    lines: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": external_id,
        "channel": channel,
        "placed_at": placed_at,
        "currency": "EUR",
        "lines": lines
        or [
            {"sku": "BIKE-HELM-M-BLU", "quantity": 1, "unit_price": "89.90"},
            {"sku": "BIKE-LIGHT-USB", "quantity": 2, "unit_price": "40.00"},
        ],
    }
    if fulfilment:
        body["fulfilment"] = fulfilment
    if store:
        body["store"] = store
    if email:
        body["customer"] = {
            "traits": {"first_name": "Giulia", "last_name": "Bianchi"},
            "identifiers": [{"kind": "email", "value": email}],
        }
    return body
