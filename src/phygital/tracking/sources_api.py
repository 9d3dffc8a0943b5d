"""Sources API: managers create sources, rotate their write keys, disable them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from phygital.auth.models import Role
from phygital.auth.service import Principal
from phygital.core.pagination import Page
from phygital.deps import ClockDep, SessionDep, require
from phygital.tracking import service
from phygital.tracking.schemas import SourceCreate, SourceRead

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])

Manager = Annotated[Principal, Depends(require(Role.MANAGER))]


@router.post("", response_model=SourceRead, status_code=201)
def create_source(data: SourceCreate, session: SessionDep, principal: Manager) -> SourceRead:
    """A new tracking source; the answer carries its write key."""
    return SourceRead.model_validate(
        service.create_source(session, name=data.name, channel=data.channel)
    )


@router.get("", response_model=Page[SourceRead])
def list_sources(session: SessionDep, principal: Manager) -> Page[SourceRead]:
    """Every source with its events count and last event time, by name."""
    return Page[SourceRead](
        items=[SourceRead.model_validate(s) for s in service.list_sources(session)], next=None
    )


@router.post("/{source_id}/rotate", response_model=SourceRead)
def rotate(source_id: str, session: SessionDep, principal: Manager) -> SourceRead:
    """A new write key; the old one stops working at once."""
    return SourceRead.model_validate(service.rotate_key(session, source_id=source_id))


@router.post("/{source_id}/disable", response_model=SourceRead)
def disable(source_id: str, session: SessionDep, clock: ClockDep, principal: Manager) -> SourceRead:
    """Refuse the source's events (401) until it is enabled again."""
    return SourceRead.model_validate(
        service.set_enabled(session, clock=clock, source_id=source_id, enabled=False)
    )


@router.post("/{source_id}/enable", response_model=SourceRead)
def enable(source_id: str, session: SessionDep, clock: ClockDep, principal: Manager) -> SourceRead:
    return SourceRead.model_validate(
        service.set_enabled(session, clock=clock, source_id=source_id, enabled=True)
    )
