"""WooCommerce webhooks: `X-WC-Webhook-Signature` signs the body, `X-WC-Webhook-Topic` says what
it is (`order.created`, `order.updated`, `order.restored`, `order.deleted`, `customer.created`,
`customer.updated`), `X-WC-Webhook-Delivery-ID` identifies the delivery.

WooCommerce sends amounts as strings, e-mails and phones as the customer typed them, times in
UTC without an offset (`*_gmt`). A shipping line with `method_id` `local_pickup` or
`pickup_location` is click & collect at the store its meta data or title names, else at the
configured default pickup store. When a webhook is created WooCommerce sends an unsigned ping,
`webhook_id=N` as a form body (see `is_ping`).
"""

from __future__ import annotations

import re
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

PROVIDER = "woocommerce"
ORIGIN = OrderOrigin.WOOCOMMERCE
ORDER_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})
CUSTOMER_TOPICS = frozenset({"customer.created", "customer.updated"})
TOPICS = ORDER_TOPICS | CUSTOMER_TOPICS | {"order.deleted"}
PICKUP_METHODS = frozenset({"local_pickup", "pickup_location"})
CANCELLED = frozenset({"cancelled", "refunded", "failed", "trash"})
_PING = re.compile(rb"^\s*webhook_id=\d{1,20}\s*$")


def secret(settings: Settings) -> str | None:
    return settings.woocommerce_secret or None


def is_ping(body: bytes) -> bool:
    """The unsigned form body WooCommerce sends to test a new webhook's URL."""
    return bool(_PING.match(body))


def parse_webhook(
    topic: str, body: bytes, stores: StoreDirectory, *, region: str, pickup_store: str | None
) -> Action:
    """Read a verified delivery into an action; `Rejected` names what is wrong."""
    if topic not in TOPICS:
        return Ignore(f"topic {topic[:100]!r} is not handled" if topic else "no topic header")
    data = p.obj(p.load_json(body), "body")
    if topic == "order.deleted":
        external_id = p.ident(data, "id", "")
        assert external_id is not None
        return OrderGone(external_id=external_id)
    if topic in CUSTOMER_TOPICS:
        return read_customer(data, region=region)
    return read_order(data, stores, region=region, pickup_store=pickup_store)


def read_order(
    data: dict[str, Any], stores: StoreDirectory, *, region: str, pickup_store: str | None
) -> Action:
    status = (p.text(data, "status", "") or "").lower()
    if status == "checkout-draft":
        return Ignore("a checkout draft is not an order yet")
    external_id = p.ident(data, "id", "")
    assert external_id is not None
    placed_at = p.moment(data, "date_created_gmt", "", naive_is_utc=True) or p.moment(
        data, "date_created", ""
    )
    if placed_at is None:
        raise Rejected("date_created_gmt: missing")
    updated_at = p.moment(data, "date_modified_gmt", "", naive_is_utc=True)

    lines = []
    for index, raw in enumerate(p.items(data, "line_items", "")):
        where = f"line_items[{index}]"
        line = p.obj(raw, where)
        qty = p.quantity(line, "quantity", where)
        if line.get("total") is not None:
            unit = p.money(line["total"], f"{where}.total") / qty
        else:
            unit = p.money(line.get("price", "0"), f"{where}.price")
        lines.append(
            {
                "sku": _sku(line, where),
                "quantity": qty,
                "unit_price": unit.quantize(p.CENT),
                "name": p.text(line, "name", where, limit=300),
            }
        )
    if not lines:
        raise Rejected("line_items: an order needs at least one line")

    billing = p.opt_obj(data, "billing", "") or {}
    customer_id = p.ident(data, "customer_id", "", required=False)
    pairs: list[tuple[str, str, object]] = [
        ("billing.email", "email", p.text(billing, "email", "billing")),
        ("billing.phone", "phone", p.text(billing, "phone", "billing")),
        ("customer_id", PROVIDER, customer_id),
    ]
    country = p.text(billing, "country", "billing")
    idents, notes = identifiers(pairs, region=region, country=country)

    fulfilment, store = _fulfilment(data, stores, pickup_store)
    number = p.text(data, "number", "", limit=99) or external_id
    order = build_order(
        {
            "external_id": external_id,
            "channel": CHANNEL,
            "placed_at": placed_at,
            "customer": {
                "traits": _traits(billing),
                "identifiers": [{"kind": k, "value": v} for k, v in idents],
            },
            "fulfilment": fulfilment,
            "store": store,
            "lines": lines,
            "currency": (p.text(data, "currency", "") or "EUR").upper(),
            "label": f"#{number}"[:100],
            "note": p.text(data, "customer_note", "", limit=2000),
        }
    )
    return ShopOrder(
        order=order,
        updated_at=updated_at,
        cancelled=status in CANCELLED,
        fulfilled=status == "completed",
        notes=notes,
    )


def _sku(line: dict[str, Any], where: str) -> str:
    """The line's sku; without one, the product's (or variation's) id, flagged as unknown."""
    sku = p.text(line, "sku", where)
    if sku and len(sku) <= 100 and not any(c.isspace() or c == "/" for c in sku):
        return sku
    for key, kind in (("variation_id", "variation"), ("product_id", "product"), ("id", "line")):
        value = p.ident(line, key, where, required=False)
        if value:
            return f"woocommerce-{kind}:{value}"
    raise Rejected(f"{where}: no sku, product or line id")


def _traits(source: dict[str, Any]) -> dict[str, Any]:
    traits = {}
    for key in ("first_name", "last_name"):
        value = p.text(source, key, "billing", limit=200)
        if value:
            traits[key] = value
    return traits


def _fulfilment(
    data: dict[str, Any], stores: StoreDirectory, pickup_store: str | None
) -> tuple[str, str | None]:
    for index, raw in enumerate(p.items(data, "shipping_lines", "")):
        where = f"shipping_lines[{index}]"
        line = p.obj(raw, where)
        if (p.text(line, "method_id", where) or "").lower() not in PICKUP_METHODS:
            continue
        names: list[str | None] = []
        for meta_index, meta in enumerate(p.items(line, "meta_data", where)):
            entry = p.obj(meta, f"{where}.meta_data[{meta_index}]")
            for key in ("value", "display_value"):
                if isinstance(entry.get(key), str):
                    names.append(entry[key])
        names.append(p.text(line, "method_title", where))
        code = stores.find(names)
        if code is None and pickup_store and stores.has(pickup_store):
            code = pickup_store
        if code is None:
            raise Rejected(
                f"{where}: pickup store unknown (no store has the name or code given, and "
                "PHYGITAL_WOOCOMMERCE_PICKUP_STORE names none)"
            )
        return "pickup", code
    return "delivery", None


def read_customer(data: dict[str, Any], *, region: str) -> ShopCustomer:
    customer_id = p.ident(data, "id", "")
    billing = p.opt_obj(data, "billing", "") or {}
    pairs: list[tuple[str, str, object]] = [
        ("email", "email", p.text(data, "email", "")),
        ("billing.email", "email", p.text(billing, "email", "billing")),
        ("billing.phone", "phone", p.text(billing, "phone", "billing")),
        ("id", PROVIDER, customer_id),
    ]
    idents, notes = identifiers(pairs, region=region, country=p.text(billing, "country", "billing"))
    traits = {}
    for key in ("first_name", "last_name"):
        value = p.text(data, key, "", limit=200) or p.text(billing, key, "billing", limit=200)
        if value:
            traits[key] = value
    return ShopCustomer(traits=traits, identifiers=idents, notes=notes)
