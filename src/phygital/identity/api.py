"""Customers API (contract, section 4). Customer profiles are company-wide for every role (a
seller serves any customer); export, erasure, merge and unmerge need a manager or the owner."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from phygital.auth.models import Role
from phygital.auth.service import Principal
from phygital.core.pagination import Page, clamp_limit
from phygital.deps import ApiPrincipal, ClockDep, SessionDep, SettingsDep, require, writes
from phygital.identity import service, timeline
from phygital.identity.schemas import (
    CustomerCreate,
    CustomerRead,
    CustomerStats,
    CustomerSummary,
    IdentifierOut,
    MergeOut,
    MergeRequest,
    TimelineItemOut,
)
from phygital.identity.service import Customer
from phygital.privacy import consent as consent_service
from phygital.privacy import service as privacy_service
from phygital.privacy.schemas import ConsentUpdate

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])

Manager = Annotated[Principal, Depends(require(Role.MANAGER))]


def read_model(session: Any, customer: Customer) -> CustomerRead:
    return CustomerRead(
        id=customer.id,
        created_at=customer.created_at,
        traits=customer.traits,
        identifiers=[IdentifierOut(kind=i.kind, value=i.value) for i in customer.identifiers],
        consents=consent_service.current(session, member_ids=customer.member_ids),
        stats=CustomerStats(
            orders=customer.orders,
            revenue=customer.revenue,
            events=customer.events,
            first_seen_at=customer.first_seen_at,
            last_seen_at=customer.last_seen_at,
            channels=customer.channels,
        ),
    )


def summary_model(customer: Customer) -> CustomerSummary:
    return CustomerSummary(
        id=customer.id,
        name=customer.name,
        email=customer.first("email"),
        phone=customer.first("phone"),
        last_seen_at=customer.last_seen_at,
    )


@router.get("", response_model=Page[CustomerSummary])
def search_customers(
    session: SessionDep,
    settings: SettingsDep,
    principal: ApiPrincipal,
    email: str | None = None,
    phone: str | None = None,
    user_id: str | None = None,
    identifier: Annotated[str | None, Query(description="kind:value, e.g. shopify:12345")] = None,
    q: Annotated[str | None, Query(description="part of a name, e-mail or phone")] = None,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: str | None = None,
) -> Page[CustomerSummary]:
    """Search customers; `email` and `phone` are normalised first. Newest first."""
    customers, next_cursor = service.search(
        session,
        region=settings.default_region,
        email=email,
        phone=phone,
        user_id=user_id,
        identifier=identifier,
        q=q,
        limit=clamp_limit(limit),
        cursor=cursor,
    )
    return Page[CustomerSummary](items=[summary_model(c) for c in customers], next=next_cursor)


@router.post(
    "",
    response_model=CustomerRead,
    status_code=201,
    responses={200: {"description": "the identifiers belong to an existing customer"}},
)
def create_customer(
    data: CustomerCreate,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    principal: ApiPrincipal,
) -> Response:
    """Create a customer. Identifiers already known join their customer (`200`) instead of
    making a duplicate; otherwise `201`."""
    result = service.create_customer(
        session,
        clock=clock,
        region=settings.default_region,
        traits=data.traits,
        identifiers=[(i.kind, i.value) for i in data.identifiers],
    )
    body = read_model(session, service.get_customer(session, result.customer_id))
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if result.created else 200)


@router.get("/{customer_id}", response_model=CustomerRead)
def get_customer(customer_id: str, session: SessionDep, principal: ApiPrincipal) -> CustomerRead:
    """The customer; a merged-away id returns the surviving customer."""
    return read_model(session, service.get_customer(session, customer_id))


@router.get("/{customer_id}/timeline", response_model=Page[TimelineItemOut])
def get_timeline(
    customer_id: str,
    session: SessionDep,
    principal: ApiPrincipal,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: str | None = None,
) -> Page[TimelineItemOut]:
    """Everything the customer did or received, from every channel, newest first."""
    customer = service.get_customer(session, customer_id)
    items, next_cursor = timeline.read(
        session, member_ids=customer.member_ids, cursor=cursor, limit=clamp_limit(limit)
    )
    return Page[TimelineItemOut](
        items=[
            TimelineItemOut(at=i.at, channel=i.channel, kind=i.kind, summary=i.summary, ref=i.ref)
            for i in items
        ],
        next=next_cursor,
    )


@router.post("/{customer_id}/merge", response_model=CustomerRead)
def merge_customers(
    customer_id: str,
    data: MergeRequest,
    session: SessionDep,
    clock: ClockDep,
    principal: Manager,
) -> CustomerRead:
    """A person says these are one customer: merged into the older one (recorded, undoable).
    `409` when they carry different user ids."""
    survivor = service.merge(
        session, clock=clock, customer_id=customer_id, other_id=data.other_id, by=principal.name
    )
    return read_model(session, service.get_customer(session, survivor))


@router.post("/{customer_id}/unmerge", response_model=CustomerRead)
def unmerge_customers(
    customer_id: str,
    data: MergeRequest,
    session: SessionDep,
    clock: ClockDep,
    principal: Manager,
) -> CustomerRead:
    """Undo a merge: `other_id` becomes a customer again with the identifiers and events it
    brought. Returns the restored customer."""
    restored = service.unmerge(
        session, clock=clock, customer_id=customer_id, other_id=data.other_id, by=principal.name
    )
    return read_model(session, service.get_customer(session, restored))


@router.get("/{customer_id}/merges", response_model=list[MergeOut])
def merge_history(customer_id: str, session: SessionDep, principal: ApiPrincipal) -> list[MergeOut]:
    """How this customer was assembled: every merge with its cause, newest first."""
    return [
        MergeOut(
            id=m.id,
            survivor_id=m.survivor_id,
            merged_id=m.merged_id,
            cause=m.cause,
            detail=m.detail,
            at=m.at,
            undone_at=m.undone_at,
        )
        for m in service.merge_history(session, customer_id=customer_id)
    ]


@router.put("/{customer_id}/consents", response_model=CustomerRead)
def put_consents(
    customer_id: str,
    data: ConsentUpdate,
    session: SessionDep,
    clock: ClockDep,
    principal: ApiPrincipal,
) -> CustomerRead:
    """Record consent statements (appended to the ledger with their proof)."""
    customer = service.get_customer(session, customer_id)
    consent_service.record(
        session,
        clock=clock,
        profile_id=customer.id,
        statements=data.statements(now=clock.now(), actor=principal.name),
    )
    return read_model(session, customer)


@router.get("/{customer_id}/export")
@writes  # the export is recorded in the audit log
def export_customer(
    customer_id: str, session: SessionDep, clock: ClockDep, principal: Manager
) -> dict[str, Any]:
    """Everything held about the person, from every part of Phygital (GDPR access)."""
    return privacy_service.export_customer(
        session, clock=clock, customer_id=customer_id, actor=principal.name
    )


@router.delete("/{customer_id}", status_code=204)
def erase_customer(
    customer_id: str, session: SessionDep, clock: ClockDep, principal: Manager
) -> Response:
    """Erasure: the person's data is removed everywhere; order totals stay, detached."""
    privacy_service.erase_customer(
        session, clock=clock, customer_id=customer_id, actor=principal.name
    )
    session.commit()
    privacy_service.compact_sqlite(session)
    return Response(status_code=204)
