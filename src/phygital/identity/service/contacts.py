"""Contacts: the light read for lists of orders (a customer's name, first e-mail and phone, and
member profiles, in one statement built once)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.orm import Session, aliased

from phygital.identity import identifiers as ids
from phygital.identity.models import Identifier, Profile
from phygital.identity.resolution import NAME_TRAITS
from phygital.identity.service.customers import name_of


@dataclass(frozen=True)
class Contact:
    """How to greet and reach a customer: the cluster's name, its first e-mail and phone (in
    the order `Customer.first` picks them) and its member profiles. What a list of orders
    needs, without traits history, counters or every identifier."""

    id: str
    member_ids: list[str]
    name: str | None
    email: str | None
    phone: str | None

    def first(self, kind: str) -> str | None:
        """As `Customer.first`, for the e-mail and the phone a contact carries (templates
        greet either the same way)."""
        return self.email if kind == ids.EMAIL else self.phone if kind == ids.PHONE else None


def contacts_of(session: Session, profile_ids: Iterable[str]) -> dict[str, Contact]:
    """The customer of each of these member profiles (by profile id) as a `Contact`, in one
    query: every member of their clusters with its e-mails and phones."""
    wanted = sorted(set(profile_ids))
    members: dict[str, tuple[str, datetime, dict[str, Any], dict[str, Any]]] = {}
    contacts: dict[str, dict[str, set[str]]] = {}
    for start in range(0, len(wanted), 900):
        rows = session.execute(_contacts_statement(), {"ids": wanted[start : start + 900]})
        for member_id, root, created_at, traits, times, kind, value in rows:
            members[member_id] = (root, created_at, traits or {}, times or {})
            found = contacts.setdefault(root, {ids.EMAIL: set(), ids.PHONE: set()})
            if kind is not None:
                found[kind].add(value)
    by_root: dict[str, list[tuple[datetime, str, dict[str, Any], dict[str, Any]]]] = {}
    for member_id, (root, created_at, traits, times) in members.items():
        by_root.setdefault(root, []).append((created_at, member_id, traits, times))
    result: dict[str, Contact] = {}
    for root, group in by_root.items():
        if root not in members:
            continue  # no surviving profile: no customer (as in `load_customers`)
        kept: dict[str, Any] = {}
        kept_at: dict[str, str] = {}
        # The newest value of each trait across members, as `Customer.traits` has it.
        for _, _, traits, times in sorted(group, key=lambda m: (m[0], m[1])):
            for name in NAME_TRAITS:
                if name in traits:
                    at = times.get(name, "")
                    if name not in kept_at or at >= kept_at[name]:
                        kept[name], kept_at[name] = traits[name], at
        found = contacts[root]
        result[root] = Contact(
            id=root,
            member_ids=[member_id for _, member_id, _, _ in group],
            name=name_of(kept),
            email=min(found[ids.EMAIL], default=None),
            phone=min(found[ids.PHONE], default=None),
        )
    return {
        profile_id: result[members[profile_id][0]]
        for profile_id in wanted
        if profile_id in members and members[profile_id][0] in result
    }


@cache
def _contacts_statement() -> Select[Any]:
    """Built once (reused with its parameters): the members of the clusters of `ids`, each
    with its e-mails and phones (a member without any: one row with no identifier)."""
    member = aliased(Profile)
    clusters = select(Profile.canonical_id).where(Profile.id.in_(bindparam("ids", expanding=True)))
    return (
        select(
            member.id,
            member.canonical_id,
            member.created_at,
            member.traits,
            member.trait_times,
            Identifier.kind,
            Identifier.value,
        )
        .outerjoin(
            Identifier,
            and_(Identifier.profile_id == member.id, Identifier.kind.in_((ids.EMAIL, ids.PHONE))),
        )
        .where(member.canonical_id.in_(clusters))
    )
