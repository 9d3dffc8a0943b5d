"""Web-shop webhook routes: `POST /webhooks/shopify` and `POST /webhooks/woocommerce`.

Each route reads the raw body, answers `404` when its shop's secret is not configured and `401`
when the signature over those exact bytes is missing or wrong, before parsing anything; the
delivery pipeline (`deliveries.receive`) does the rest. Answers are committed before they are
sent (`SessionDep`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from phygital.commerce.webhooks import shopify, woocommerce
from phygital.commerce.webhooks.deliveries import (
    Incoming,
    Receipt,
    delivery_key,
    receive,
    signature_ok,
)
from phygital.commerce.webhooks.shop import Action, StoreDirectory
from phygital.core.schemas import ErrorOut
from phygital.deps import ClockDep, SessionDep, SettingsDep

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

MAX_BODY_BYTES = 5 * 1024 * 1024  # a Shopify order with hundreds of lines is well below


class WebhookReceipt(BaseModel):
    """What happened to a delivery."""

    status: str = Field(
        description="`processed`, `ignored` (a topic not acted on, or an update older than the "
        "one applied), `duplicate` (this delivery id was already received) or `pong` (a "
        "WooCommerce ping)"
    )
    order_id: str | None = Field(default=None, description="the Phygital order concerned")
    customer_id: str | None = Field(default=None, description="the customer resolved")
    detail: str | None = Field(default=None, description="why ignored, or what was set aside")


async def raw_body(request: Request) -> bytes | None:
    """The body exactly as sent (the signature covers these bytes); None when over the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


RawBody = Annotated[bytes | None, Depends(raw_body)]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": WebhookReceipt, "description": "received (processed, ignored or duplicate)"},
    400: {
        "model": ErrorOut,
        "description": "signed but unusable (not JSON, a field missing or impossible, an unknown "
        "pickup store): the reason; the delivery is recorded with its body, nothing else is kept",
    },
    401: {"model": ErrorOut, "description": "signature missing or wrong: nothing is stored"},
    404: {"model": ErrorOut, "description": "this shop's secret is not configured"},
    413: {"model": ErrorOut, "description": "body larger than 5 MB"},
}


def _json_body(description: str, *, form: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {
        "application/json": {"schema": {"type": "object", "description": description}}
    }
    if form:
        content["application/x-www-form-urlencoded"] = {
            "schema": {
                "type": "object",
                "properties": {"webhook_id": {"type": "integer"}},
                "description": "WooCommerce's ping when a webhook is created (unsigned)",
            }
        }
    return {"requestBody": {"required": True, "content": content}}


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status)


def _answer(receipt: Receipt) -> JSONResponse:
    if receipt.status == "rejected":
        return _error(400, receipt.detail or "unusable body")
    body = WebhookReceipt(
        status=receipt.status,
        order_id=receipt.order_id,
        customer_id=receipt.customer_id,
        detail=receipt.detail,
    )
    return JSONResponse(body.model_dump())


@router.post(
    "/shopify",
    summary="Shopify orders and customers",
    response_model=None,
    responses=_RESPONSES,
    openapi_extra=_json_body("a Shopify order or customer, as the topic says"),
)
def shopify_webhook(
    body: RawBody,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    signature: Annotated[
        str | None,
        Header(
            alias="X-Shopify-Hmac-Sha256",
            description="base64 HMAC-SHA256 of the raw body with PHYGITAL_SHOPIFY_SECRET",
        ),
    ] = None,
    topic: Annotated[
        str | None,
        Header(
            alias="X-Shopify-Topic",
            description="orders/create, orders/updated, orders/paid, orders/cancelled, "
            "orders/fulfilled, orders/delete, customers/create, customers/update; others are "
            "recorded as ignored",
        ),
    ] = None,
    webhook_id: Annotated[
        str | None,
        Header(alias="X-Shopify-Webhook-Id", description="the delivery's idempotency key"),
    ] = None,
) -> JSONResponse:
    """A Shopify webhook. Orders become Phygital orders of channel `web` whose `external_id` is
    Shopify's order id; a shipping line naming a store (code, name or address) makes it a click
    & collect order at that store; a Shopify POS sale at a location mapped to a store
    (`PHYGITAL_SHOPIFY_LOCATIONS`) is an in-store sale of channel `store` there. Updates, edits
    included, apply in the order of Shopify's `updated_at`; a repeated delivery (same
    `X-Shopify-Webhook-Id`) is stored once."""
    secret = shopify.secret(settings)
    if secret is None:
        return _error(404, "Shopify webhooks are not configured (PHYGITAL_SHOPIFY_SECRET)")
    if body is None:
        return _error(413, "body larger than 5 MB")
    if not signature_ok(secret, body, signature):
        return _error(401, "bad or missing X-Shopify-Hmac-Sha256 signature")
    name = (topic or "").strip().lower()
    region = settings.default_region
    locations = settings.shopify_location_stores

    def parse(raw: bytes, stores: StoreDirectory) -> Action:
        return shopify.parse_webhook(name, raw, stores, region=region, locations=locations)

    incoming = Incoming(
        provider=shopify.PROVIDER,
        origin=shopify.ORIGIN,
        delivery_id=delivery_key(webhook_id, name, body),
        topic=name,
        body=body,
    )
    return _answer(receive(session, clock=clock, region=region, incoming=incoming, parse=parse))


@router.post(
    "/woocommerce",
    summary="WooCommerce orders and customers",
    response_model=None,
    responses=_RESPONSES,
    openapi_extra=_json_body("a WooCommerce order or customer, as the topic says", form=True),
)
def woocommerce_webhook(
    body: RawBody,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    signature: Annotated[
        str | None,
        Header(
            alias="X-WC-Webhook-Signature",
            description="base64 HMAC-SHA256 of the raw body with PHYGITAL_WOOCOMMERCE_SECRET",
        ),
    ] = None,
    topic: Annotated[
        str | None,
        Header(
            alias="X-WC-Webhook-Topic",
            description="order.created, order.updated, order.restored, order.deleted, "
            "customer.created, customer.updated; others are recorded as ignored",
        ),
    ] = None,
    delivery_id: Annotated[
        str | None,
        Header(
            alias="X-WC-Webhook-Delivery-ID",
            description="the delivery's idempotency key (a hash of the body when absent)",
        ),
    ] = None,
) -> JSONResponse:
    """A WooCommerce webhook. Orders become Phygital orders of channel `web` whose
    `external_id` is WooCommerce's order id; a `local_pickup` or `pickup_location` shipping line
    makes it click & collect at the store it names (else PHYGITAL_WOOCOMMERCE_PICKUP_STORE).
    Updates apply in the order of `date_modified_gmt`. The unsigned ping WooCommerce sends when
    a webhook is created (`webhook_id=N`) answers `200` and stores nothing."""
    secret = woocommerce.secret(settings)
    if secret is None:
        return _error(404, "WooCommerce webhooks are not configured (PHYGITAL_WOOCOMMERCE_SECRET)")
    if body is None:
        return _error(413, "body larger than 5 MB")
    if woocommerce.is_ping(body):
        return JSONResponse(WebhookReceipt(status="pong").model_dump())
    if not signature_ok(secret, body, signature):
        return _error(401, "bad or missing X-WC-Webhook-Signature signature")
    name = (topic or "").strip().lower()
    region = settings.default_region
    pickup_store = settings.woocommerce_pickup_store

    def parse(raw: bytes, stores: StoreDirectory) -> Action:
        return woocommerce.parse_webhook(
            name, raw, stores, region=region, pickup_store=pickup_store
        )

    incoming = Incoming(
        provider=woocommerce.PROVIDER,
        origin=woocommerce.ORIGIN,
        delivery_id=delivery_key(delivery_id, name, body),
        topic=name,
        body=body,
    )
    return _answer(receive(session, clock=clock, region=region, incoming=incoming, parse=parse))
