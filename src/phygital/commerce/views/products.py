"""The catalogue: products by sku for everyone, new products and changes for the admin, stock
per store on a product's page (counts set by managers), and the skus that arrived in orders
without a product, each a click away from a prefilled "add to catalogue" form."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from phygital.auth.models import Role
from phygital.auth.service import Principal
from phygital.commerce import reading, service, suggestions
from phygital.commerce.models import Product
from phygital.commerce.schemas import ProductCreate, ProductUpdate, StockSet
from phygital.commerce.views.common import (
    Admin,
    Manager,
    field_errors,
    flash,
    take_notice,
    time_helpers,
)
from phygital.core.clock import Clock
from phygital.core.errors import Conflict, Invalid
from phygital.core.pagination import decode_cursor, encode_cursor
from phygital.deps import ClockDep, CsrfProtected, SessionDep, WebUser
from phygital.web import i18n
from phygital.web.templating import render, request_locale

router = APIRouter(prefix="/products", include_in_schema=False)

PAGE_SIZE = 50
UNKNOWN_SHOWN = 20
PARTNERS_SHOWN = 5
PRODUCT_FIELDS = ("sku", "name", "price", "currency", "category")


def product_path(sku: str) -> str:
    return "/products/" + quote(sku, safe="")


def _messages() -> dict[str, str]:
    return {
        "sku": i18n.gettext("Letters, digits and signs without spaces or slashes (at most 100)."),
        "name": i18n.gettext("Give the product a name (at most 300 characters)."),
        "price": i18n.gettext("A price such as 19.90, not negative."),
        "currency": i18n.gettext("A currency code of three letters, e.g. EUR."),
        "category": i18n.gettext("The category can be at most 100 characters."),
        "quantity": i18n.gettext("A whole number of units, 0 or more."),
    }


def _price(text: str) -> Decimal | str:
    """A price as people type it ("19,90", "€ 1.290,00" stays invalid); the text when it is
    not a number, for Pydantic to refuse."""
    cleaned = text.strip().replace(" ", "")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return text


def _product_values(form: dict[str, str], active: bool) -> dict[str, Any]:
    return {
        "name": form["name"],
        "price": _price(form["price"]),
        "currency": form["currency"].upper(),
        "category": form["category"] or None,
        "active": active,
    }


# -- the catalogue ------------------------------------------------------------------------------


def _list_page(
    request: Request,
    session: Session,
    clock: Clock,
    user: Principal,
    *,
    q: str = "",
    category: str = "",
    cursor: str = "",
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    error = None
    after: str | None = None
    if cursor:
        try:
            after = str(decode_cursor(cursor, size=1)[0])
        except Invalid:
            error = i18n.gettext("This page link is no longer valid: showing the first page.")
            cursor = ""
    rows = service.list_products(
        session, q=q or None, category=category or None, after=after, limit=PAGE_SIZE + 1
    )
    page = rows[:PAGE_SIZE]
    kept = {k: v for k, v in {"q": q, "category": category}.items() if v}
    next_page = None
    if len(rows) > PAGE_SIZE and page:
        next_page = "/products?" + urlencode({**kept, "cursor": encode_cursor([page[-1].sku])})
    return render(
        request,
        "commerce/products.html",
        {
            "products": page,
            "q": q,
            "category": category,
            "first_page": "/products" + (f"?{urlencode(kept)}" if kept else ""),
            "next_page": next_page,
            "paged": bool(cursor),
            "unknown": service.unknown_skus(session, limit=UNKNOWN_SHOWN),
            "can_edit": user.has_role(Role.ADMIN),
            "form": form,
            "errors": errors or {},
            "error": error,
            "product_path": product_path,
            "notice": take_notice(request),
            **time_helpers(clock.now()),
        },
        status,
    )


@router.get("", response_class=HTMLResponse)
def product_list(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    user: WebUser,
    q: str = "",
    category: str = "",
    cursor: str = "",
    new: str = "",
    name: str = "",
) -> Response:
    request_locale(request)
    form: dict[str, Any] | None = None
    if new or name:  # "add to catalogue" from an unknown sku: the form comes prefilled
        form = {"sku": new, "name": name, "price": "", "currency": "EUR", "category": ""}
        form["active"] = True
    return _list_page(
        request,
        session,
        clock,
        user,
        q=q.strip()[:100],
        category=category.strip()[:100],
        cursor=cursor,
        form=form,
    )


@router.post("", dependencies=[CsrfProtected])
def create_product(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    user: Admin,
    sku: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    price: Annotated[str, Form()] = "",
    currency: Annotated[str, Form()] = "EUR",
    category: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
) -> Response:
    request_locale(request)
    form: dict[str, Any] = {
        "sku": sku.strip(),
        "name": name.strip(),
        "price": price.strip(),
        "currency": currency.strip(),
        "category": category.strip(),
    }
    form["active"] = bool(active)
    try:
        data = ProductCreate(sku=form["sku"], **_product_values(form, bool(active)))
        product = service.create_product(session, data=data)
    except ValidationError as exc:
        errors = field_errors(exc, _messages())
        return _list_page(request, session, clock, user, form=form, errors=errors, status=422)
    except Conflict:
        session.rollback()
        errors = {"sku": i18n.gettext("A product with this sku already exists.")}
        return _list_page(request, session, clock, user, form=form, errors=errors, status=409)
    flash(request, i18n.gettext("Product %(sku)s added to the catalogue.", sku=product.sku))
    return RedirectResponse(product_path(product.sku), status_code=303)


# -- one product --------------------------------------------------------------------------------


def _product_form(product: Product) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "name": product.name,
        "price": f"{product.price:.2f}",
        "currency": product.currency,
        "category": product.category or "",
        "active": product.active,
    }


def _product_page(
    request: Request,
    session: Session,
    clock: Clock,
    user: Principal,
    product: Product,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    stock_errors: dict[str, str] | None = None,
    stock_values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    stores = service.list_stores(session, principal=user)
    stock = reading.stock_by_store(session, sku=product.sku, stores=stores)
    partners = suggestions.partners(session, [product.sku], per_sku=PARTNERS_SHOWN)
    return render(
        request,
        "commerce/product.html",
        {
            "product": product,
            "stores": stores,
            "stock": stock,
            "partners": partners[product.sku],
            "can_edit": user.has_role(Role.ADMIN),
            "can_count": user.has_role(Role.MANAGER),
            "form": form or _product_form(product),
            "errors": errors or {},
            "stock_errors": stock_errors or {},
            "stock_values": stock_values or {},
            "product_path": product_path,
            "notice": take_notice(request),
            **time_helpers(clock.now()),
        },
        status,
    )


@router.get("/{sku}", response_class=HTMLResponse)
def product_page(
    request: Request, sku: str, session: SessionDep, clock: ClockDep, user: WebUser
) -> Response:
    request_locale(request)
    product = service.get_product(session, sku=sku)
    return _product_page(request, session, clock, user, product)


@router.post("/{sku}", dependencies=[CsrfProtected])
def update_product(
    request: Request,
    sku: str,
    session: SessionDep,
    clock: ClockDep,
    user: Admin,
    name: Annotated[str, Form()] = "",
    price: Annotated[str, Form()] = "",
    currency: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
) -> Response:
    request_locale(request)
    product = service.get_product(session, sku=sku)
    form: dict[str, Any] = {
        "sku": product.sku,
        "name": name.strip(),
        "price": price.strip(),
        "currency": currency.strip(),
        "category": category.strip(),
        "active": bool(active),
    }
    try:
        data = ProductUpdate(**_product_values(form, bool(active)))
    except ValidationError as exc:
        errors = field_errors(exc, _messages())
        return _product_page(
            request, session, clock, user, product, form=form, errors=errors, status=422
        )
    service.update_product(session, sku=product.sku, data=data)
    flash(request, i18n.gettext("Product %(sku)s saved.", sku=product.sku))
    return RedirectResponse(product_path(product.sku), status_code=303)


@router.post("/{sku}/stock/{code}", dependencies=[CsrfProtected])
def set_stock(
    request: Request,
    sku: str,
    code: str,
    session: SessionDep,
    clock: ClockDep,
    user: Manager,
    quantity: Annotated[str, Form()] = "",
) -> Response:
    request_locale(request)
    product = service.get_product(session, sku=sku)
    store = service.get_store(session, code=code, principal=user)
    try:
        data = StockSet(quantity=int(quantity.strip()))
    except (ValueError, ValidationError):
        return _product_page(
            request,
            session,
            clock,
            user,
            product,
            stock_errors={store.id: _messages()["quantity"]},
            stock_values={store.id: quantity},
            status=422,
        )
    service.set_stock(session, store=store, sku=product.sku, quantity=data.quantity)
    flash(
        request,
        i18n.gettext("%(store)s now has %(count)s on hand.", store=store.name, count=data.quantity),
    )
    return RedirectResponse(f"{product_path(product.sku)}#stock", status_code=303)
