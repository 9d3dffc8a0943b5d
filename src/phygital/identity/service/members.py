"""Member profiles: the customer of each, the members of each customer, their identifier values,
and the search text kept on each."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from phygital.identity.models import Identifier, Profile


def roots_of(session: Session, member_ids: Iterable[str]) -> dict[str, str]:
    """The customer (cluster root) of each member profile, in one query."""
    wanted = sorted(set(member_ids))
    result: dict[str, str] = {}
    for start in range(0, len(wanted), 900):
        chunk = wanted[start : start + 900]
        rows = session.execute(
            select(Profile.id, Profile.canonical_id).where(Profile.id.in_(chunk))
        )
        result.update({member: root for member, root in rows})
    return result


def identifier_values(session: Session, member_ids: list[str]) -> list[str]:
    """The identifier values of these member profiles (e-mails, phones, cards, ids): what an
    eraser searches for in text it cannot otherwise tie to the person."""
    if not member_ids:
        return []
    return list(
        session.scalars(select(Identifier.value).where(Identifier.profile_id.in_(member_ids)))
    )


def member_ids_of(session: Session, customer_ids: Iterable[str]) -> dict[str, list[str]]:
    """Every member profile of each customer (root id -> member ids), in one query."""
    wanted = sorted(set(customer_ids))
    result: dict[str, list[str]] = {root: [] for root in wanted}
    if wanted:
        rows = session.execute(
            select(Profile.id, Profile.canonical_id).where(Profile.canonical_id.in_(wanted))
        )
        for member, root in rows:
            result[root].append(member)
    return result
