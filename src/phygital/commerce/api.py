"""Commerce JSON routes under /api/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from phygital.auth.models import Role
from phygital.auth.service import Principal
from phygital.commerce import service
from phygital.commerce.schemas import StoreCreate, StoreRead
from phygital.core.pagination import Page
from phygital.deps import ApiPrincipal, SessionDep, require

router = APIRouter(prefix="/api/v1", tags=["stores"])

Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


@router.post("/stores", status_code=201, response_model=StoreRead)
def create_store(data: StoreCreate, session: SessionDep, principal: Admin) -> StoreRead:
    """Create a store (admin)."""
    return StoreRead.model_validate(service.create_store(session, data=data))


@router.get("/stores", response_model=Page[StoreRead])
def list_stores(session: SessionDep, principal: ApiPrincipal) -> Page[StoreRead]:
    """The stores the caller may see, by code."""
    stores = service.list_stores(session, principal=principal)
    return Page[StoreRead](items=[StoreRead.model_validate(s) for s in stores], next=None)
