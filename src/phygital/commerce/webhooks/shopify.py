"""Shopify webhooks: `X-Shopify-Hmac-Sha256` signs the body, `X-Shopify-Topic` says what it is,
`X-Shopify-Webhook-Id` identifies the delivery.

Orders (`orders/create`, `orders/updated`, `orders/paid`, `orders/cancelled`,
`orders/fulfilled`) carry the whole order; `orders/delete` only its id; `customers/create` and
`customers/update` the customer. A click & collect order is recognisable only by a shipping
line whose `code` or `title` names the store (its code, name or address).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from phygital.commerce.models import OrderOrigin
from phygital.commerce.webhooks import payload as p
from phygital.commerce.webhooks.payload import Rejected
from phygital.commerce.webhooks.shop import (
    CHANNEL,
    Action,
    Ignore,
    OrderGone,
    ShopCustomer,
    ShopOrder,
    StoreDirectory,
    build_order,
    identifiers,
)
from phygital.config import Settings
from phygital.privacy.consent import ConsentStatement

PROVIDER = "shopify"
# Sales on Shopify POS at a mapped location join the till's channel.
STORE_CHANNEL = "store"
ORIGIN = OrderOrigin.SHOPIFY
ORDER_TOPICS = frozenset(
    {"orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled"}
)
CUSTOMER_TOPICS = frozenset({"customers/create", "customers/update"})
TOPICS = ORDER_TOPICS | CUSTOMER_TOPICS | {"orders/delete"}
# `delivery_category` values that mean "collected at a location" even when no store is named.
PICKUP_CATEGORIES = frozenset({"pickup", "local_pickup", "local-pickup"})


def secret(settings: Settings) -> str | None:
    return settings.shopify_secret or None


def parse_webhook(
    topic: str,
    body: bytes,
    stores: StoreDirectory,
    *,
    region: str,
    locations: Mapping[str, str] | None = None,
) -> Action:
    """Read a verified delivery into an action; `Rejected` names what is wrong."""
    if topic not in TOPICS:
        return Ignore(f"topic {topic[:100]!r} is not handled" if topic else "no topic header")
    data = p.obj(p.load_json(body), "body")
    if topic == "orders/delete":
        return OrderGone(external_id=_id(data, "id", ""))
    if topic in CUSTOMER_TOPICS:
        return read_customer(data, region=region)
    return read_order(data, stores, region=region, locations=locations or {})


def _id(parent: dict[str, Any], key: str, path: str) -> str:
    value = p.ident(parent, key, path)
    assert value is not None
    return value


def read_order(
    data: dict[str, Any],
    stores: StoreDirectory,
    *,
    region: str,
    locations: Mapping[str, str] | None = None,
) -> ShopOrder:
    """An order as Shopify sends it. A sale rung up on Shopify POS at a location mapped to a
    store (`PHYGITAL_SHOPIFY_LOCATIONS`) is an in-store sale there, as from the till."""
    external_id = _id(data, "id", "")
    placed_at = p.moment(data, "created_at", "")
    if placed_at is None:
        raise Rejected("created_at: missing")
    updated_at = p.moment(data, "updated_at", "")
    cancelled_at = p.moment(data, "cancelled_at", "")

    lines, removed = [], []
    for index, raw in enumerate(p.items(data, "line_items", "")):
        where = f"line_items[{index}]"
        line = p.obj(raw, where)
        entry = {
            "sku": _sku(line, where),
            "quantity": p.quantity(line, "quantity", where),
            "unit_price": p.money(line.get("price", "0"), f"{where}.price"),
            "name": _line_name(line, where),
        }
        # An edited order keeps a removed line with `current_quantity` 0 (API 2024-01 and
        # later); `quantity` stays what was first ordered.
        if line.get("current_quantity") is not None:
            current = p.quantity(line, "current_quantity", where, minimum=0)
            if current == 0:
                removed.append(entry)
                continue
            entry["quantity"] = current
        lines.append(entry)
    notes: list[str] = []
    lines_current = bool(lines) or not removed
    if not lines_current:
        # Emptied without a cancellation: the order keeps the lines it has (for one never seen,
        # the lines first ordered).
        lines = removed
        notes.append("every line was removed in the shop: the order keeps its lines")
    if not lines:
        raise Rejected("line_items: an order needs at least one line")

    customer = p.opt_obj(data, "customer", "") or {}
    billing = p.opt_obj(data, "billing_address", "") or {}
    shipping = p.opt_obj(data, "shipping_address", "") or {}
    pairs: list[tuple[str, str, object]] = [
        ("email", "email", p.text(data, "email", "")),
        ("customer.email", "email", p.text(customer, "email", "customer")),
        ("phone", "phone", p.text(data, "phone", "")),
        ("customer.phone", "phone", p.text(customer, "phone", "customer")),
        ("customer.id", PROVIDER, p.ident(customer, "id", "customer", required=False)),
    ]
    if not any(kind == "phone" and value for _, kind, value in pairs):
        # Typed in the checkout's address form: a phone only when the person gave no other.
        pairs.append(("billing_address.phone", "phone", p.text(billing, "phone", "billing")))
    country = p.text(billing, "country_code", "billing") or p.text(
        shipping, "country_code", "shipping"
    )
    idents, ident_notes = identifiers(pairs, region=region, country=country)
    notes += ident_notes
    traits = _traits(customer) or _traits(billing)

    fulfilment, store = _fulfilment(data, stores)
    channel = CHANNEL
    location = _pos_location(data)
    if location is not None:
        code = (locations or {}).get(location)
        if code is not None and stores.has(code):
            channel = STORE_CHANNEL
            if fulfilment == "delivery" and not p.items(data, "shipping_lines", ""):
                fulfilment, store = "in_store", code  # taken home from the counter
            elif fulfilment == "delivery":
                store = code  # sold at the counter, shipped to the customer
        else:
            why = "is not mapped" if code is None else f"is mapped to {code!r}, no store's code"
            notes.append(
                f"a Shopify POS sale at location {location}, which {why} "
                "(PHYGITAL_SHOPIFY_LOCATIONS): kept as a web order"
            )
    order = build_order(
        {
            "external_id": external_id,
            "channel": channel,
            "placed_at": placed_at,
            "customer": {
                "traits": traits,
                "identifiers": [{"kind": k, "value": v} for k, v in idents],
            },
            "fulfilment": fulfilment,
            "store": store,
            "lines": lines,
            "currency": (p.text(data, "currency", "") or "EUR").upper(),
            "label": p.text(data, "name", "", limit=100),
            "note": p.text(data, "note", "", limit=2000),
        }
    )
    at = updated_at or placed_at
    return ShopOrder(
        order=order,
        updated_at=updated_at,
        cancelled=cancelled_at is not None,
        fulfilled=p.text(data, "fulfillment_status", "") == "fulfilled",
        consents=_consents(customer, at=at),
        notes=notes,
        lines_current=lines_current,
    )


def _sku(line: dict[str, Any], where: str) -> str:
    """The line's sku; without one (or one the catalogue could never hold), the variant's id:
    the line is kept either way, flagged as unknown to the catalogue."""
    sku = p.text(line, "sku", where)
    if sku and len(sku) <= 100 and not any(c.isspace() or c == "/" for c in sku):
        return sku
    for key, kind in (("variant_id", "variant"), ("product_id", "product"), ("id", "line")):
        value = p.ident(line, key, where, required=False)
        if value:
            return f"shopify-{kind}:{value}"
    raise Rejected(f"{where}: no sku, variant or product id")


def _line_name(line: dict[str, Any], where: str) -> str | None:
    title = p.text(line, "title", where) or p.text(line, "name", where)
    variant = p.text(line, "variant_title", where)
    name = f"{title} ({variant})" if title and variant else title
    return name[:300] if name else None


def _traits(source: dict[str, Any]) -> dict[str, Any]:
    traits = {}
    for key in ("first_name", "last_name"):
        value = p.text(source, key, "customer", limit=200)
        if value:
            traits[key] = value
    return traits


def _pos_location(data: dict[str, Any]) -> str | None:
    """The location of a sale made on Shopify POS (`source_name` "pos"), else None."""
    if (p.text(data, "source_name", "") or "").lower() != "pos":
        return None
    return p.ident(data, "location_id", "", required=False) or None


def _fulfilment(data: dict[str, Any], stores: StoreDirectory) -> tuple[str, str | None]:
    """Pickup at the store a shipping line names; delivery otherwise."""
    pickup_method = False
    for index, raw in enumerate(p.items(data, "shipping_lines", "")):
        where = f"shipping_lines[{index}]"
        line = p.obj(raw, where)
        names = [p.text(line, "code", where), p.text(line, "title", where)]
        code = stores.find(names)
        if code is not None:
            return "pickup", code
        category = (p.text(line, "delivery_category", where) or "").lower()
        pickup_method = pickup_method or category in PICKUP_CATEGORIES
    if pickup_method:
        raise Rejected("shipping_lines: pickup store unknown (no store has that code or name)")
    return "delivery", None


def _consents(customer: dict[str, Any], *, at: datetime) -> list[ConsentStatement]:
    """E-mail and SMS marketing consent as the shop recorded it (explicit states only)."""
    statements = []
    for key, channel in (("email_marketing_consent", "email"), ("sms_marketing_consent", "sms")):
        state = p.opt_obj(customer, key, "customer") or {}
        value = p.text(state, "state", f"customer.{key}")
        if value not in ("subscribed", "unsubscribed"):
            continue
        when = p.moment(state, "consent_updated_at", f"customer.{key}") or at
        level = p.text(state, "opt_in_level", f"customer.{key}", limit=100)
        statements.append(
            ConsentStatement(
                purpose="marketing",
                channel=channel,
                granted=value == "subscribed",
                at=when,
                source=PROVIDER,
                wording=f"Shopify: {value}" + (f" ({level})" if level else ""),
            )
        )
    if not statements and customer.get("accepts_marketing") is True:
        # The field older API versions send instead: only a yes is a statement.
        statements.append(
            ConsentStatement("marketing", "email", True, at, PROVIDER, "Shopify: accepts_marketing")
        )
    return statements


def read_customer(data: dict[str, Any], *, region: str) -> ShopCustomer:
    customer_id = _id(data, "id", "")
    address = p.opt_obj(data, "default_address", "") or {}
    pairs: list[tuple[str, str, object]] = [
        ("email", "email", p.text(data, "email", "")),
        ("phone", "phone", p.text(data, "phone", "")),
        ("id", PROVIDER, customer_id),
    ]
    country = p.text(address, "country_code", "default_address")
    idents, notes = identifiers(pairs, region=region, country=country)
    at = p.moment(data, "updated_at", "") or p.moment(data, "created_at", "")
    consents = _consents(data, at=at) if at is not None else []
    return ShopCustomer(
        traits=_traits(data) or _traits(address),
        identifiers=idents,
        consents=consents,
        notes=notes,
    )
