"""`phygital demo`: a realistic demo company in an empty database.

Each capability adds its own part here (stores and people now; customers, orders, journeys,
conversations as they arrive), always through the same services the product uses.
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from phygital.auth import service as auth_service
from phygital.auth.models import Role, User
from phygital.commerce.demo import seed_stores
from phygital.core import app_settings
from phygital.core.errors import Conflict

COMPANY_NAME = "Velò Bici"

DEMO_USERS = (
    ("titolare@velo.example", "Alessandra Conti", Role.ADMIN, None),
    ("giulia@velo.example", "Giulia Bianchi", Role.SELLER, "MI"),
    ("marco@velo.example", "Marco Ferrari", Role.SELLER, "TO"),
)


def build_demo(session: Session, *, customers: int, password: str | None) -> str:
    """Create the demo company and return what to print: how to log in."""
    if session.scalar(select(func.count()).select_from(User)):
        raise Conflict("the database is not empty: run the demo on a new database")
    password = password or secrets.token_urlsafe(9)
    app_settings.set_value(session, app_settings.COMPANY_NAME, COMPANY_NAME)
    seed_stores(session)
    for email, name, role, store in DEMO_USERS:
        auth_service.create_user(
            session, email=email, name=name, role=role, password=password, store_code=store
        )
    lines = [
        f"Demo company '{COMPANY_NAME}' is ready: 3 stores (MI, TO, BO), an owner and two sellers.",
        "Start it with:  phygital serve   then open http://127.0.0.1:8000/login",
        "",
        "Log in as (password for all: " + password + "):",
    ]
    for email, name, role, store in DEMO_USERS:
        where = f", store {store}" if store else ""
        lines.append(f"  {email:<26} {name} ({role.value}{where})")
    if customers:
        lines.append("")
        lines.append(
            f"Customers: {customers} requested; customer and activity data arrive with the "
            "identity and tracking capability."
        )
    return "\n".join(lines)
