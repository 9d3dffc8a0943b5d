"""Property tests of identity resolution (hypothesis): order independence against a model,
no customer with two user ids, and merge followed by unmerge giving back what there was.

Each example starts from empty tables. The worlds are small on purpose: a few people, a few
identifiers each, a dozen events; what matters is the variety of orders and batchings.

Where the contract promises order independence, and where it cannot
--------------------------------------------------------------------
Every strong identifier (user id, e-mail, phone, card) belongs to one person here, as in life.
Then two strong identifiers end up in one customer exactly when events link them, directly or
through other strong identifiers: the model below is a union-find over the events' strong
identifiers, and the engine must match it in every order and every batching.

Devices are weak evidence, and that makes their own place order-dependent by nature, not by bug:
a device goes with the first person identified on it, and an event whose strong identifiers share
none with that person's does not join them (the shared-device rule). So a kiosk used by Anna and
then Marco belongs to Anna's customer, and used by Marco first, to Marco's; the same holds for
one person whose e-mail and phone were each seen on the device but never together (the engine
cannot know they are one person, and the contract tells it not to guess). For such ambiguous
devices the property checks only that the device lands with one of the people it saw; anonymous
events on them follow the device. Everything else is compared exactly.

Per-kind limits are order-dependent by nature too (the first five e-mails win), so these worlds
stay under the default limits; the limits have their own example tests in test_resolution.py.
Observations of two devices and no strong identifier are left out as well: no Segment message
has that shape, and where such a pair leads to two people, which one the devices stay with
depends on which was identified first.

Traits are part of the comparison: they follow event time, so every order must give each
customer the values of its latest events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from phygital.core.clock import FrozenClock
from phygital.db import Base, one_connection, transaction
from phygital.identity import service
from phygital.identity.identifiers import ANONYMOUS_ID, USER_ID, Ident
from phygital.identity.models import Identifier, IdentityConflict, MergeRecord, Profile
from phygital.identity.resolution import IdentityCarry, Observation, resolve_many
from tests.conftest import START
from tests.identity.conftest import customers

PROPERTY = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# The tables these tests write; emptying only them keeps an example to a few round trips.
IDENTITY_TABLES = {
    Profile.__tablename__,
    Identifier.__tablename__,
    MergeRecord.__tablename__,
    IdentityConflict.__tablename__,
}


def empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name in IDENTITY_TABLES:
                conn.execute(delete(table))


@pytest.fixture
def fresh(engine: Engine, session_factory: sessionmaker[Session], clock: FrozenClock) -> Fresh:
    return Fresh(engine, session_factory, clock)


@dataclass
class Fresh:
    engine: Engine
    factory: sessionmaker[Session]
    clock: FrozenClock

    def reset(self) -> None:
        empty_tables(self.engine)
        self.clock.set(START)

    def resolve(
        self,
        observations: list[Observation],
        carry: IdentityCarry | None = None,
        factory: sessionmaker[Session] | None = None,
    ) -> list[Any]:
        self.clock.advance(timedelta(seconds=1))
        with transaction(factory or self.factory) as session:
            return resolve_many(session, clock=self.clock, observations=observations, carry=carry)

    def check_structure(self) -> None:
        """Every member's canonical id is a root: merges and unmerges keep clusters flat."""
        with self.factory() as session:
            rows = session.execute(select(Profile.id, Profile.canonical_id)).all()
        roots = {pid for pid, canonical in rows if pid == canonical}
        assert {canonical for _, canonical in rows} <= roots


# -- (a) order independence ---------------------------------------------------------------


@dataclass(frozen=True)
class Ev:
    """One event of a world: the identifiers it carries, its time and its traits."""

    idents: tuple[Ident, ...]
    minute: int
    traits: tuple[tuple[str, str], ...] = ()

    @property
    def strong(self) -> list[Ident]:
        return [i for i in self.idents if i.kind != ANONYMOUS_ID]

    @property
    def devices(self) -> list[Ident]:
        return [i for i in self.idents if i.kind == ANONYMOUS_ID]

    def observation(self) -> Observation:
        return Observation(
            identifiers=list(self.idents),
            at=START - timedelta(days=1) + timedelta(minutes=self.minute),
            traits=dict(self.traits),
            channel="web",
            ref=f"m{self.minute}",
        )


KIOSK = Ident(ANONYMOUS_ID, "kiosk")


@st.composite
def worlds(draw: st.DrawFn) -> list[Ev]:
    """A few people, each with their own strong identifiers and devices, sharing one kiosk;
    events that each carry some identifiers of one person and one device, or two with a user
    id (as a Segment message does: an alias brings its previous anonymous id). Traits only on
    events with a strong identifier (see `expected`)."""
    people: list[tuple[list[Ident], list[Ident]]] = []
    for p in range(draw(st.integers(1, 4))):
        strong = []
        if draw(st.booleans()):
            strong.append(Ident(USER_ID, f"u{p}"))
        strong += [Ident("email", f"p{p}.{j}@example.it") for j in range(draw(st.integers(0, 2)))]
        if draw(st.booleans()):
            strong.append(Ident("phone", f"+39347000000{p}"))
        if draw(st.booleans()):
            strong.append(Ident("loyalty_card", f"LC-{p}"))
        devices = [Ident(ANONYMOUS_ID, f"dev-{p}.{j}") for j in range(draw(st.integers(0, 2)))]
        people.append((strong, devices))
    events = []
    for minute in range(draw(st.integers(1, 12))):
        strong, devices = draw(st.sampled_from(people))
        carried = draw(st.lists(st.sampled_from(strong), unique=True)) if strong else []
        on = draw(
            st.lists(
                st.sampled_from([KIOSK, *devices]),
                min_size=0 if carried else 1,
                max_size=2 if any(i.kind == USER_ID for i in carried) else 1,
                unique=True,
            )
        )
        traits: tuple[tuple[str, str], ...] = ()
        if carried:
            traits = tuple(
                draw(
                    st.dictionaries(
                        st.sampled_from(["city", "size"]), st.sampled_from(["a", "b", "c"])
                    )
                ).items()
            )
        idents = (*carried, *on)
        events.append(Ev(idents, minute, traits))
    return events


@dataclass
class Expected:
    """What every order must give: the customers as sets of keys (ambiguous devices left out),
    where each ambiguous device may go, the traits and least event counts per customer."""

    customers: set[frozenset[str]]
    ambiguous: dict[str, list[frozenset[str]]] = field(default_factory=dict)
    traits: dict[frozenset[str], dict[str, str]] = field(default_factory=dict)
    events: dict[frozenset[str], int] = field(default_factory=dict)


def expected(events: list[Ev]) -> Expected:
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for ev in events:
        keys = [i.key for i in ev.strong]
        for k in keys:
            parent.setdefault(k, k)
        for k in keys[1:]:
            parent[find(k)] = find(keys[0])
    groups: dict[str, set[str]] = {}
    for k in parent:
        groups.setdefault(find(k), set()).add(k)

    seen_with: dict[str, set[str]] = {}
    for ev in events:
        for device in ev.devices:
            seen_with.setdefault(device.key, set()).update(find(i.key) for i in ev.strong)
    ambiguous_roots: dict[str, set[str]] = {}
    for device, roots in seen_with.items():
        if not roots:
            groups[device] = {device}
        elif len(roots) == 1:
            groups[next(iter(roots))].add(device)
        else:
            ambiguous_roots[device] = roots

    def group_of(ev: Ev) -> str | None:
        if ev.strong:
            return find(ev.strong[0].key)
        [device] = ev.devices
        if device.key in ambiguous_roots:
            return None
        return device.key if device.key in groups else find(next(iter(seen_with[device.key])))

    result = Expected(customers={frozenset(g) for g in groups.values()})
    result.ambiguous = {
        d: [frozenset(groups[r]) for r in roots] for d, roots in ambiguous_roots.items()
    }
    for ev in sorted(events, key=lambda e: e.minute):  # later events overwrite: event time
        root = group_of(ev)
        if root is None:
            continue
        key = frozenset(groups[root])
        result.events[key] = result.events.get(key, 0) + 1
        result.traits.setdefault(key, {}).update(ev.traits)
    return result


def assert_matches(fresh: Fresh, want: Expected, total_events: int) -> None:
    found = customers(fresh.factory)
    ambiguous = set(want.ambiguous)
    by_keys = {}
    for c in found:
        keys = frozenset(i.key for i in c.identifiers)
        for device in keys & ambiguous:
            assert keys - ambiguous in want.ambiguous[device], f"{device} landed in {keys}"
        by_keys[keys - ambiguous] = c
    assert set(by_keys) == want.customers
    for keys, c in by_keys.items():
        assert c.traits == want.traits.get(keys, {}), keys
        assert c.events >= want.events.get(keys, 0), keys
    assert sum(c.events for c in found) == total_events
    with fresh.factory() as session:
        assert session.scalar(select(func.count()).select_from(IdentityConflict)) == 0
    fresh.check_structure()


@PROPERTY
@given(events=worlds(), data=st.data())
def test_customers_do_not_depend_on_arrival_order_or_batching(
    fresh: Fresh, events: list[Ev], data: st.DataObject
) -> None:
    want = expected(events)

    fresh.reset()  # one message per request, in the order they happened
    for ev in events:
        fresh.resolve([ev.observation()])
    assert_matches(fresh, want, len(events))

    fresh.reset()  # all at once, shuffled
    shuffled = data.draw(st.permutations(events), label="one batch")
    fresh.resolve([ev.observation() for ev in shuffled])
    assert_matches(fresh, want, len(events))

    shuffled = data.draw(st.permutations(events), label="batches")
    cuts = sorted(data.draw(st.sets(st.integers(1, len(events)), max_size=3), label="cuts"))
    # Shuffled, in batches of random sizes; then the same batches handing on what they learned,
    # as a bulk import does (IdentityCarry).
    for carry in (None, IdentityCarry()):
        fresh.reset()
        with one_connection(fresh.factory) as batches:  # the carry is handed on along one
            for start, end in zip([0, *cuts], [*cuts, len(events)], strict=True):
                if start < end:
                    observations = [ev.observation() for ev in shuffled[start:end]]
                    fresh.resolve(observations, carry, batches)
        assert_matches(fresh, want, len(events))


# -- (b) no customer ever holds two user ids ------------------------------------------------

POOL = [
    *(Ident(USER_ID, f"u{n}") for n in range(3)),
    *(Ident("email", f"e{n}@example.it") for n in range(3)),
    *(Ident("phone", f"+3934700000{n}") for n in range(2)),
    Ident("loyalty_card", "LC-1"),
    *(Ident(ANONYMOUS_ID, f"d{n}") for n in range(3)),
]


@PROPERTY
@given(
    batches=st.lists(
        st.lists(st.lists(st.sampled_from(POOL), min_size=1, max_size=4, unique=True), max_size=4),
        min_size=1,
        max_size=5,
    )
)
def test_no_customer_ever_holds_two_user_ids(
    fresh: Fresh, batches: list[list[list[Ident]]]
) -> None:
    """Anything may link anything here (shared e-mails, family phones, several user ids and
    devices in one observation): user ids still never meet, and an observation that carries a
    user id ends up in the customer of its own (first) user id."""
    fresh.reset()
    own: list[tuple[str, str]] = []
    for batch in batches:
        observations = [Observation(identifiers=idents, at=START) for idents in batch]
        for obs, result in zip(observations, fresh.resolve(observations), strict=True):
            first_user = next((i for i in obs.identifiers if i.kind == USER_ID), None)
            if first_user is not None:
                own.append((result.profile_id, first_user.key))
    found = customers(fresh.factory)
    for c in found:
        assert len([i for i in c.identifiers if i.kind == USER_ID]) <= 1, c.identifiers
    holder = {i.key: c.id for c in found for i in c.identifiers}
    root_of_member = {m: c.id for c in found for m in c.member_ids}
    for profile_id, user_key in own:
        assert user_key in holder, f"{user_key} was lost"
        assert holder[user_key] == root_of_member[profile_id]
    fresh.check_structure()


# -- (c) merge then unmerge gives back the original customers --------------------------------


@st.composite
def separate_people(draw: st.DrawFn) -> list[list[list[Ident]]]:
    """2-4 people, each seen in 1-3 observations of their own identifiers (which may or may not
    link up into one customer); only one of them has a user id, so every merge is allowed."""
    people = []
    for p in range(draw(st.integers(2, 4))):
        idents = [Ident("email", f"p{p}@example.it")]
        if p == 0 and draw(st.booleans()):
            idents.append(Ident(USER_ID, "u0"))
        if draw(st.booleans()):
            idents.append(Ident("phone", f"+39347000000{p}"))
        idents += [Ident(ANONYMOUS_ID, f"dev-{p}.{j}") for j in range(draw(st.integers(0, 2)))]
        seen = st.lists(st.sampled_from(idents), min_size=1, max_size=3, unique=True)
        people.append(draw(st.lists(seen, min_size=1, max_size=3)))
    return people


def snapshot(fresh: Fresh) -> set[tuple[frozenset[str], int, tuple[tuple[str, Any], ...]]]:
    return {
        (frozenset(i.key for i in c.identifiers), c.events, tuple(sorted(c.traits.items())))
        for c in customers(fresh.factory)
    }


@PROPERTY
@given(people=separate_people(), data=st.data())
def test_merge_then_unmerge_gives_back_the_original_customers(
    fresh: Fresh, people: list[list[list[Ident]]], data: st.DataObject
) -> None:
    fresh.reset()
    seen = [idents for observations in people for idents in observations]
    fresh.resolve(
        [
            Observation(
                identifiers=idents,
                at=START - timedelta(hours=1) + timedelta(minutes=minute),
                traits={"seen": minute},
            )
            for minute, idents in enumerate(seen)
        ]
    )
    before = snapshot(fresh)
    roots = [c.id for c in customers(fresh.factory)]

    merge_order = data.draw(st.permutations(roots), label="merge order")
    with transaction(fresh.factory) as session:
        survivor = merge_order[0]
        for other in merge_order[1:]:
            fresh.clock.advance(timedelta(seconds=1))
            survivor = service.merge(
                session, clock=fresh.clock, customer_id=survivor, other_id=other, by="test"
            )
    [merged] = customers(fresh.factory)
    assert merged.id == survivor
    assert merged.events == sum(events for _, events, _ in before)

    unmerge_order = data.draw(
        st.permutations([r for r in roots if r != survivor]), label="unmerge order"
    )
    for other in unmerge_order:
        with transaction(fresh.factory) as session:
            service.unmerge(
                session, clock=fresh.clock, customer_id=other, other_id=other, by="test"
            )
    assert snapshot(fresh) == before
    fresh.check_structure()
