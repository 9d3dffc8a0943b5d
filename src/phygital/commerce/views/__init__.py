"""Commerce pages: the pickup desk, orders, store settings and the catalogue."""

from __future__ import annotations

from fastapi import APIRouter

from phygital.commerce.views import desk, orders, products, stores

router = APIRouter(include_in_schema=False)
for _part in (desk.router, orders.router, stores.router, products.router):
    router.include_router(_part)

__all__ = ["router"]
