""" "Often bought together": upsell suggestions from order history.

`ProductPair` counts, for every two products, how many orders held both (kept current as
orders arrive). A basket's suggestions are the products that went most often with anything in
it, summed over its lines, leaving out what it already holds and what the catalogue does not
sell (unknown or inactive). Suggestions the store has on the shelf come first: the seller can
hand them over at the counter.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Integer, Select, and_, bindparam, func, null, select
from sqlalchemy.orm import Session

from phygital.commerce.models import Product, ProductPair, Stock

# Partners kept per product: enough for a basket of a few lines to find three suggestions.
PER_SKU = 6


# Named tuples, not dataclasses: a desk makes hundreds of them on every request.
class Partner(NamedTuple):
    """A product bought together with another in `orders` orders."""

    sku: str
    name: str
    price: Decimal
    currency: str
    orders: int
    available: int | None  # units free in the store (on hand - reserved); None if never counted


class Suggestion(NamedTuple):
    sku: str
    name: str
    price: Decimal
    currency: str
    score: int  # orders that held it with something in the basket
    available: int | None


def partners(
    session: Session, skus: Iterable[str], *, store_id: str | None = None, per_sku: int = PER_SKU
) -> dict[str, list[Partner]]:
    """The products most often bought with each sku (at most `per_sku` each, by orders), with
    their catalogue data and, given a store, what it has available. One query for any number
    of skus."""
    wanted = sorted(set(skus))
    result: dict[str, list[Partner]] = {sku: [] for sku in wanted}
    if not wanted or per_sku < 1:
        return result
    params = {"skus": wanted, "per_sku": per_sku, "store_id": store_id}
    rows = list(session.execute(_partners_statement(store_id is not None), params))
    # Ranked by the database; in each sku's list by rank (the rows come in no set order).
    rows.sort(key=lambda row: (row[0], row[7]))
    for sku, other, name, price, currency, orders, available, _ in rows:
        result[sku].append(Partner(other, name, price, currency, orders, available))
    return result


@cache
def _partners_statement(by_store: bool) -> Select[Any]:
    """Built once and reused with its parameters (`skus`, `per_sku`, `store_id`): the pickup
    desk asks on every request."""
    ranked = (
        select(
            ProductPair.sku,
            ProductPair.other_sku,
            ProductPair.orders,
            func.row_number()
            .over(
                partition_by=ProductPair.sku,
                order_by=(ProductPair.orders.desc(), ProductPair.other_sku),
            )
            .label("rank"),
        )
        .join(Product, and_(Product.sku == ProductPair.other_sku, Product.active.is_(True)))
        .where(ProductPair.sku.in_(bindparam("skus", expanding=True)), ProductPair.orders > 0)
        .subquery()
    )
    # The catalogue's columns are joined to the ranked few, not carried through the ranking.
    available = (Stock.on_hand - Stock.reserved) if by_store else null()
    stmt = select(
        ranked.c.sku,
        ranked.c.other_sku,
        Product.name,
        Product.price,
        Product.currency,
        ranked.c.orders,
        available,
        ranked.c.rank,
    ).join(Product, Product.sku == ranked.c.other_sku)
    if by_store:
        stmt = stmt.outerjoin(
            Stock, and_(Stock.store_id == bindparam("store_id"), Stock.sku == ranked.c.other_sku)
        )
    return stmt.where(ranked.c.rank <= bindparam("per_sku", type_=Integer))


def suggest(
    basket: Collection[str], found: Mapping[str, list[Partner]], *, limit: int = 3
) -> list[Suggestion]:
    """The best `limit` suggestions for a basket from its skus' partners (pure): summed over
    the basket, not already in it, those in stock in the store before those that are not."""
    scores: dict[str, int] = {}
    info: dict[str, Partner] = {}
    for sku in basket:
        for partner in found.get(sku, ()):
            if partner.sku in basket:
                continue
            scores[partner.sku] = scores.get(partner.sku, 0) + partner.orders
            info[partner.sku] = partner

    def key(sku: str) -> tuple[bool, int, str]:
        available = info[sku].available
        return (available is not None and available <= 0, -scores[sku], sku)

    return [
        Suggestion(
            sku=sku,
            name=info[sku].name,
            price=info[sku].price,
            currency=info[sku].currency,
            score=scores[sku],
            available=info[sku].available,
        )
        for sku in sorted(scores, key=key)[:limit]
    ]


def for_baskets(
    session: Session,
    baskets: Mapping[str, Collection[str]],
    *,
    store_id: str | None = None,
    limit: int = 3,
) -> dict[str, list[Suggestion]]:
    """Suggestions for many baskets (e.g. the orders on the pickup desk, by order id) in one
    query."""
    found = partners(session, (sku for skus in baskets.values() for sku in skus), store_id=store_id)
    return {key: suggest(skus, found, limit=limit) for key, skus in baskets.items()}
