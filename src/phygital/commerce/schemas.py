"""Commerce API shapes (contract, section 4)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from phygital.core.clock import is_timezone
from phygital.identity.schemas import IdentifierIn

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-4]):[0-5]\d$")

Time = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]
# A shift is ["09:00", "13:00"]: opening and closing time, local to the store.
Shift = Annotated[list[Time], Field(min_length=2, max_length=2)]
OpeningHours = dict[str, list[tuple[str, str]]]


class WeeklyHours(BaseModel):
    """`{"mon": [["09:00", "13:00"], ["15:30", "19:30"]], …}`; a missing day is closed."""

    model_config = ConfigDict(extra="forbid")

    mon: list[Shift] = Field(default_factory=list)
    tue: list[Shift] = Field(default_factory=list)
    wed: list[Shift] = Field(default_factory=list)
    thu: list[Shift] = Field(default_factory=list)
    fri: list[Shift] = Field(default_factory=list)
    sat: list[Shift] = Field(default_factory=list)
    sun: list[Shift] = Field(default_factory=list)

    def as_dict(self) -> OpeningHours:
        return {
            day: [(s[0], s[1]) for s in getattr(self, day)] for day in DAYS if getattr(self, day)
        }


def validate_opening_hours(value: OpeningHours) -> OpeningHours:
    """Days `mon`…`sun`, each a list of `[open, close]` "HH:MM" shifts in order, not overlapping."""
    clean: OpeningHours = {}
    for day, shifts in value.items():
        if day not in DAYS:
            raise ValueError(f"unknown day {day!r} (use {', '.join(DAYS)})")
        previous_end = ""
        ordered: list[tuple[str, str]] = []
        for start, end in shifts:
            for t in (start, end):
                if not _HHMM.match(t) or (t.startswith("24") and t != "24:00"):
                    raise ValueError(f"{day}: {t!r} is not a time HH:MM")
            if start >= end:
                raise ValueError(f"{day}: a shift must end after it starts ({start}-{end})")
            if previous_end and start < previous_end:
                raise ValueError(f"{day}: shifts overlap or are out of order")
            previous_end = end
            ordered.append((start, end))
        clean[day] = ordered
    return clean


StoreCode = Annotated[
    str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
]
Sku = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\s/]+$"),
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Price = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


class StoreCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: StoreCode
    name: str = Field(min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=1000)
    timezone: str = "Europe/Rome"
    opening_hours: WeeklyHours = Field(default_factory=WeeklyHours)
    prep_minutes: StrictInt = Field(
        default=60, ge=0, le=7 * 24 * 60, description="Opening minutes a pickup needs."
    )
    hold_days: StrictInt = Field(
        default=7, ge=1, le=90, description="Days a ready pickup waits before it is overdue."
    )
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        if not is_timezone(value):
            raise ValueError("not an IANA time zone (e.g. Europe/Rome)")
        return value

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: WeeklyHours) -> WeeklyHours:
        validate_opening_hours(value.as_dict())
        return value


class StoreUpdate(BaseModel):
    """Fields to change; those left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=1000)
    timezone: str | None = None
    opening_hours: WeeklyHours | None = None
    prep_minutes: StrictInt | None = Field(default=None, ge=0, le=7 * 24 * 60)
    hold_days: StrictInt | None = Field(default=None, ge=1, le=90)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    active: StrictBool | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        if value is not None and not is_timezone(value):
            raise ValueError("not an IANA time zone (e.g. Europe/Rome)")
        return value

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: WeeklyHours | None) -> WeeklyHours | None:
        if value is not None:
            validate_opening_hours(value.as_dict())
        return value


class StoreExceptionIn(BaseModel):
    """A day with other hours: `shifts` empty = closed (a holiday)."""

    model_config = ConfigDict(extra="forbid")

    shifts: list[Shift] = Field(default_factory=list, max_length=6)
    note: str = Field(default="", max_length=200)

    @field_validator("shifts")
    @classmethod
    def _shifts(cls, value: list[list[str]]) -> list[list[str]]:
        validate_opening_hours({"mon": [(s[0], s[1]) for s in value]})
        return value


class StoreExceptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date
    shifts: list[list[str]]
    note: str


class StoreRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    code: str
    name: str
    address: str | None
    timezone: str
    opening_hours: WeeklyHours
    prep_minutes: int
    hold_days: int
    email: str | None
    phone: str | None
    active: bool
    created_at: datetime


# -- products and stock -------------------------------------------------------------------------


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    name: str = Field(min_length=1, max_length=300)
    price: Price
    currency: Currency = "EUR"
    category: str | None = Field(default=None, max_length=100)
    active: StrictBool = True


class ProductUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=300)
    price: Price | None = None
    currency: Currency | None = None
    category: str | None = Field(default=None, max_length=100)
    active: StrictBool | None = None


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    name: str
    price: Decimal
    currency: str
    category: str | None
    active: bool
    created_at: datetime


class StockSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: StrictInt = Field(ge=0, le=10_000_000, description="Units on hand in the store.")


class StockRead(BaseModel):
    store: str
    sku: str
    on_hand: int
    reserved: int = Field(description="Units promised to pickup orders not yet collected.")
    available: int


class UnknownSku(BaseModel):
    """An sku seen in orders that the catalogue does not have."""

    sku: str
    name: str | None
    orders: int
    last_seen_at: datetime


# -- orders -------------------------------------------------------------------------------------


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    traits: dict[str, Any] = Field(default_factory=dict)
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=20)


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: StrictInt = Field(gt=0, le=100_000)
    unit_price: Price
    name: str | None = Field(default=None, max_length=300)


# Totals are stored as NUMERIC(14, 2), as are customers' revenues that add them up.
MAX_TOTAL = Decimal("10000000000")
OrderChannel = Literal["web", "app", "store", "agent", "phone", "whatsapp", "email"]
ONLINE_ORDER_CHANNELS = frozenset({"web", "app", "whatsapp", "email"})


class OrderCreate(BaseModel):
    """An order from any channel. In-store sales: `"channel": "store"` (fulfilment defaults to
    `in_store`). A pickup needs a store and is promised from its hours."""

    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, max_length=100)
    channel: OrderChannel
    placed_at: AwareDatetime
    customer: CustomerIn = Field(default_factory=CustomerIn)
    fulfilment: Literal["delivery", "pickup", "in_store"] | None = None
    store: StoreCode | None = None
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    currency: Currency = "EUR"
    label: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _fulfilment(self) -> OrderCreate:
        if self.fulfilment is None:
            self.fulfilment = "in_store" if self.channel == "store" else "delivery"
        if self.fulfilment in ("pickup", "in_store") and not self.store:
            raise ValueError(f"store: a {self.fulfilment} order needs the store's code")
        if self.total >= MAX_TOTAL:
            raise ValueError(f"lines: the order's total must be below {MAX_TOTAL:,}")
        return self

    @property
    def total(self) -> Decimal:
        return sum((line.unit_price * line.quantity for line in self.lines), Decimal("0.00"))


class LineRead(BaseModel):
    sku: str
    name: str | None
    quantity: int
    unit_price: Decimal
    known: bool = Field(description="False when the catalogue did not have this sku.")


class OrderRead(BaseModel):
    id: str
    external_id: str
    channel: str
    origin: str
    status: str = Field(
        description="placed, fulfilled, awaiting, ready, overdue, collected or cancelled; "
        "`overdue` is an awaiting pickup past its promise or a ready one not collected in time."
    )
    store: str | None
    customer_id: str | None
    fulfilment: str
    lines: list[LineRead]
    total: Decimal
    currency: str
    placed_at: datetime
    promised_ready_at: datetime | None
    ready_at: datetime | None
    collected_at: datetime | None
    cancelled_at: datetime | None
    label: str | None


class PromiseRate(BaseModel):
    store: str | None
    channel: str | None
    kind: str
    due: int
    kept: int
    broken: int
    rate: float | None
