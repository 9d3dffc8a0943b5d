"""Commerce logic. Services take a Session and never commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from phygital.auth.service import Principal
from phygital.commerce.models import Store
from phygital.commerce.schemas import StoreCreate
from phygital.core.errors import Conflict


def create_store(session: Session, *, data: StoreCreate) -> Store:
    """Add a store; its code is the stable name integrators and the CLI use."""
    if session.scalar(select(Store.id).where(Store.code == data.code)) is not None:
        raise Conflict(f"a store with code {data.code!r} already exists", field="code")
    store = Store(
        code=data.code,
        name=data.name,
        address=data.address,
        timezone=data.timezone,
        opening_hours={
            day: [list(s) for s in shifts] for day, shifts in data.opening_hours.as_dict().items()
        },
        active=True,
    )
    session.add(store)
    session.flush()
    return store


def list_stores(session: Session, *, principal: Principal) -> list[Store]:
    """The stores the principal may see: all of them, or only its own."""
    stmt = select(Store).order_by(Store.code)
    if principal.visible_store_id is not None:
        stmt = stmt.where(Store.id == principal.visible_store_id)
    return list(session.scalars(stmt))
