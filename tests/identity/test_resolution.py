"""Identity resolution, one rule of the contract (section 3) per test.

Most tests drive `resolve_many` with observations (fast); the end-to-end ones post Segment
messages to the real tracking API.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from phygital.identity.models import Identifier, IdentityConflict, MergeRecord, Profile
from phygital.tracking.models import Event
from tests.conftest import START, Principals
from tests.identity.conftest import Identity, all_keys, keys, observe

T1 = START - timedelta(days=3)
T2 = START - timedelta(days=2)
T3 = START - timedelta(days=1)


def test_identifiers_that_point_at_no_profile_create_one(identity: Identity) -> None:
    [result] = identity.resolve(observe("email:giulia@example.it", "phone:347 123 4567"))
    assert result is not None and result.created
    assert result.customer_id == result.profile_id
    assert identity.partition() == all_keys([("email:giulia@example.it", "phone:+393471234567")])


def test_an_observation_without_identifiers_resolves_to_nobody(identity: Identity) -> None:
    assert identity.resolve(observe()) == [None]
    assert identity.customers() == []


def test_a_known_identifier_joins_its_profile_and_adds_the_new_ones(identity: Identity) -> None:
    [first] = identity.resolve(observe("email:giulia@example.it"))
    [second] = identity.resolve(observe("email:Giulia@Example.it", "loyalty_card:LC-1"))
    assert second is not None and first is not None
    assert not second.created
    assert second.customer_id == first.customer_id
    assert identity.partition() == all_keys([("email:giulia@example.it", "loyalty_card:LC-1")])


def test_a_batch_resolves_in_order_so_later_messages_see_earlier_ones(identity: Identity) -> None:
    results = identity.resolve(
        observe("anonymous_id:dev-1"),
        observe("anonymous_id:dev-1", "email:giulia@example.it"),
        observe("email:giulia@example.it", "phone:3471234567"),
    )
    assert len({r.customer_id for r in results if r}) == 1
    assert identity.partition() == all_keys(
        [("anonymous_id:dev-1", "email:giulia@example.it", "phone:+393471234567")]
    )


def test_profiles_created_and_merged_in_one_batch_are_stored_as_merged(
    identity: Identity,
) -> None:
    first, second, linked = identity.resolve(
        observe("email:a@example.it"),
        observe("email:b@example.it"),
        observe("email:a@example.it", "email:b@example.it"),
    )
    assert first and second and linked
    survivor = linked.customer_id  # the older of two made at the same time: the smaller id
    [gone] = {first.profile_id, second.profile_id} - {survivor}
    with identity.factory() as session:
        merged = session.get(Profile, gone)
        assert merged is not None
        assert merged.merged_into_id == survivor
        assert merged.canonical_id == survivor
        assert merged.merged_at == identity.clock.now()


def test_identifiers_of_several_profiles_merge_them_into_the_oldest(identity: Identity) -> None:
    [by_phone] = identity.resolve(observe("phone:3471234567"))
    identity.clock.advance(timedelta(minutes=1))
    [by_email] = identity.resolve(observe("email:giulia@example.it"))
    identity.clock.advance(timedelta(minutes=1))
    [by_card] = identity.resolve(observe("loyalty_card:LC-1"))
    assert by_phone and by_email and by_card

    [linked] = identity.resolve(
        observe("loyalty_card:LC-1", "email:giulia@example.it", "phone:3471234567")
    )
    assert linked is not None
    assert linked.customer_id == by_phone.customer_id  # the oldest survives
    # The event is attached to the member owning its most important identifier (the card).
    assert linked.profile_id == by_card.profile_id
    with identity.factory() as session:
        merges = session.scalars(select(MergeRecord)).all()
        assert {(m.survivor_id, m.merged_id) for m in merges} == {
            (by_phone.customer_id, by_email.customer_id),
            (by_phone.customer_id, by_card.customer_id),
        }
        assert {m.cause for m in merges} == {"event"}
        card = session.get(Profile, by_card.profile_id)
        assert card is not None
        assert card.canonical_id == card.merged_into_id == by_phone.customer_id
    # Merges move no rows: each identifier stays on the member that got it.
    with identity.factory() as session:
        owners = {k: p for k, p in session.execute(select(Identifier.kind, Identifier.profile_id))}
    assert owners == {
        "phone": by_phone.profile_id,
        "email": by_email.profile_id,
        "loyalty_card": by_card.profile_id,
    }


def test_merging_merged_customers_keeps_one_root_for_every_member(identity: Identity) -> None:
    identity.resolve(observe("email:a@example.it"))
    identity.clock.advance(timedelta(minutes=1))
    identity.resolve(observe("email:b@example.it"))
    identity.clock.advance(timedelta(minutes=1))
    identity.resolve(observe("email:c@example.it"))
    identity.clock.advance(timedelta(minutes=1))
    identity.resolve(observe("email:d@example.it"))
    identity.resolve(observe("email:c@example.it", "email:d@example.it"))
    identity.resolve(observe("email:a@example.it", "email:b@example.it"))
    [result] = identity.resolve(observe("email:b@example.it", "email:d@example.it"))
    assert result is not None
    with identity.factory() as session:
        roots = set(session.scalars(select(Profile.canonical_id)))
    assert roots == {result.customer_id}
    assert identity.partition() == all_keys(
        [("email:a@example.it", "email:b@example.it", "email:c@example.it", "email:d@example.it")]
    )


def test_two_different_user_ids_are_never_merged_and_the_conflict_is_recorded(
    identity: Identity,
) -> None:
    [anna] = identity.resolve(observe("user_id:anna", "email:family@example.it"))
    identity.clock.advance(timedelta(minutes=1))
    [marco] = identity.resolve(observe("user_id:marco", "phone:3471234567"))
    assert anna and marco

    # Marco's event carries the family e-mail that is Anna's.
    [result] = identity.resolve(observe("user_id:marco", "email:family@example.it"))
    assert result is not None
    assert result.customer_id == marco.customer_id  # the event joins its own user id
    assert identity.partition() == all_keys(
        [("user_id:anna", "email:family@example.it"), ("user_id:marco", "phone:+393471234567")]
    )
    with identity.factory() as session:
        assert session.scalar(select(func.count()).select_from(MergeRecord)) == 0
        [conflict] = session.scalars(select(IdentityConflict)).all()
    assert conflict.profile_id == marco.customer_id
    assert conflict.other_profile_ids == {"ids": [anna.customer_id]}
    assert {"kind": "email", "value": "family@example.it"} in conflict.identifiers["items"]


def test_a_new_user_id_meeting_another_users_identifier_gets_its_own_profile(
    identity: Identity,
) -> None:
    [anna] = identity.resolve(observe("user_id:anna", "email:family@example.it"))
    [result] = identity.resolve(
        observe("user_id:marco", "email:family@example.it", "phone:3471234567")
    )
    assert result is not None and anna is not None
    assert result.created and result.customer_id != anna.customer_id
    assert identity.partition() == all_keys(
        [("user_id:anna", "email:family@example.it"), ("user_id:marco", "phone:+393471234567")]
    )
    with identity.factory() as session:
        [conflict] = session.scalars(select(IdentityConflict)).all()
    assert conflict.profile_id == result.customer_id


def test_identifiers_linking_two_user_ids_merge_nothing(identity: Identity) -> None:
    identity.resolve(observe("user_id:anna", "email:anna@example.it"))
    identity.resolve(observe("user_id:marco", "phone:3471234567"))
    identity.resolve(observe("email:anna@example.it", "phone:3471234567"))
    assert identity.partition() == all_keys(
        [("user_id:anna", "email:anna@example.it"), ("user_id:marco", "phone:+393471234567")]
    )
    with identity.factory() as session:
        assert session.scalar(select(func.count()).select_from(IdentityConflict)) == 1


def test_alias_merges_the_anonymous_visitor_into_the_user(tracked: Identity) -> None:
    tracked.send({"type": "page", "anonymousId": "dev-1", "name": "Home", "messageId": "m1"})
    tracked.send(
        {
            "type": "identify",
            "userId": "u-1",
            "traits": {"email": "g@example.it"},
            "messageId": "m2",
        }
    )
    assert len(tracked.customers()) == 2
    tracked.send({"type": "alias", "previousId": "dev-1", "userId": "u-1", "messageId": "m3"})
    [customer] = tracked.customers()
    assert {i.key for i in customer.identifiers} == keys(
        "user_id:u-1", "email:g@example.it", "anonymous_id:dev-1"
    )
    assert customer.events == 3
    with tracked.factory() as session:
        [merge] = session.scalars(select(MergeRecord)).all()
    assert merge.cause == "alias"
    assert merge.detail["ref"] == "m3"


def test_alias_between_two_user_ids_merges_nothing_and_joins_the_new_user_id(
    tracked: Identity,
) -> None:
    # The previous id sorts first on purpose: "its own user id" is userId, not the smaller one.
    tracked.send({"type": "identify", "userId": "a-old", "traits": {"email": "old@example.it"}})
    tracked.send({"type": "identify", "userId": "z-new", "traits": {"email": "new@example.it"}})
    tracked.send({"type": "alias", "previousId": "a-old", "userId": "z-new", "messageId": "al"})
    assert tracked.partition() == all_keys(
        [("user_id:a-old", "email:old@example.it"), ("user_id:z-new", "email:new@example.it")]
    )
    new = tracked.customer_of("user_id:z-new")
    with tracked.factory() as session:
        alias = session.scalars(select(Event).where(Event.message_id == "al")).one()
        assert alias.profile_id in new.member_ids
        assert session.scalar(select(func.count()).select_from(IdentityConflict)) == 1


def test_own_user_id_is_the_first_one_observed_not_the_smallest(identity: Identity) -> None:
    [old] = identity.resolve(observe("user_id:a-old"))
    [new] = identity.resolve(observe("user_id:z-new"))
    [alias] = identity.resolve(observe("user_id:z-new", "user_id:a-old", cause="alias"))
    assert alias is not None and new is not None and old is not None
    assert alias.customer_id == new.customer_id


def test_an_observation_with_two_new_user_ids_keeps_its_own(identity: Identity) -> None:
    [result] = identity.resolve(observe("user_id:z-new", "user_id:a-other", "email:z@example.it"))
    assert result is not None
    assert identity.partition() == all_keys([("user_id:z-new", "email:z@example.it")])


def test_a_kiosk_never_fuses_its_shoppers(tracked: Identity) -> None:
    kiosk = "kiosk-milano-1"
    shoppers = ["anna@example.it", "bruno@example.it", "carla@example.it"]
    for n, email in enumerate(shoppers):
        tracked.send(
            {"type": "identify", "anonymousId": kiosk, "traits": {"email": email}},
            {"type": "track", "anonymousId": kiosk, "event": "Product Tried", "messageId": f"t{n}"},
            source="store",
        )
    emails = [{i.value for i in c.identifiers if i.kind == "email"} for c in tracked.customers()]
    assert sorted(emails, key=sorted) == [{e} for e in shoppers]
    # The device stays with the first shopper; the others are kept apart, not fused.
    assert tracked.customer_of("anonymous_id:kiosk-milano-1") == tracked.customer_of(
        "email:anna@example.it"
    )


def test_two_people_on_one_device_with_different_emails_stay_two_customers(
    identity: Identity,
) -> None:
    identity.resolve(observe("anonymous_id:family-pc", "email:anna@example.it"))
    [marco] = identity.resolve(observe("anonymous_id:family-pc", "email:marco@example.it"))
    assert marco is not None and marco.created
    assert identity.partition() == all_keys(
        [("anonymous_id:family-pc", "email:anna@example.it"), ("email:marco@example.it",)]
    )


def test_anonymous_browsing_then_identify_on_the_same_device_joins(tracked: Identity) -> None:
    tracked.send(
        {"type": "page", "anonymousId": "dev-1", "name": "Caschi", "timestamp": T1.isoformat()},
        {"type": "track", "anonymousId": "dev-1", "event": "Product Viewed"},
    )
    tracked.send(
        {
            "type": "identify",
            "anonymousId": "dev-1",
            "userId": "u-1",
            "traits": {"email": "giulia@example.it", "phone": "347 123 4567"},
        }
    )
    [customer] = tracked.customers()
    assert {i.key for i in customer.identifiers} == keys(
        "user_id:u-1", "email:giulia@example.it", "phone:+393471234567", "anonymous_id:dev-1"
    )
    assert customer.events == 3


def test_a_known_shopper_on_a_shared_device_joins_their_own_profile(identity: Identity) -> None:
    [anna] = identity.resolve(observe("anonymous_id:kiosk", "email:anna@example.it"))
    identity.resolve(observe("anonymous_id:kiosk", "email:marco@example.it"))
    [again] = identity.resolve(
        observe("anonymous_id:kiosk", "email:anna@example.it", "phone:3471234567")
    )
    assert again is not None and anna is not None
    assert again.customer_id == anna.customer_id
    assert len(identity.customers()) == 2


def test_devices_alone_never_link_two_identified_people(identity: Identity) -> None:
    identity.resolve(observe("anonymous_id:dev-anna", "email:anna@example.it"))
    identity.resolve(observe("anonymous_id:dev-marco", "email:marco@example.it"))
    identity.resolve(observe("anonymous_id:dev-anna", "anonymous_id:dev-marco"))
    assert identity.partition() == all_keys(
        [
            ("anonymous_id:dev-anna", "email:anna@example.it"),
            ("anonymous_id:dev-marco", "email:marco@example.it"),
        ]
    )


def test_devices_alone_do_link_anonymous_visits(identity: Identity) -> None:
    identity.resolve(observe("anonymous_id:dev-1"))
    identity.resolve(observe("anonymous_id:dev-2", "email:anna@example.it"))
    identity.resolve(observe("anonymous_id:dev-1", "anonymous_id:dev-2"))
    assert identity.partition() == all_keys(
        [("anonymous_id:dev-1", "anonymous_id:dev-2", "email:anna@example.it")]
    )


def test_placeholder_ids_never_link_people(tracked: Identity) -> None:
    tracked.send(
        {
            "type": "identify",
            "userId": "u-1",
            "anonymousId": "undefined",
            "traits": {"email": "a@x.it"},
        },
        {
            "type": "identify",
            "userId": "u-2",
            "anonymousId": "undefined",
            "traits": {"email": "null"},
        },
        {"type": "identify", "userId": "u-3", "anonymousId": "0", "traits": {"phone": "-1"}},
    )
    assert tracked.partition() == all_keys(
        [("user_id:u-1", "email:a@x.it"), ("user_id:u-2",), ("user_id:u-3",)]
    )


def test_joining_over_a_limit_sets_aside_the_lowest_priority_identifier(identity: Identity) -> None:
    limits = {"anonymous_id": 2}
    identity.resolve(observe("user_id:u-1", "anonymous_id:d1"), limits=limits)
    identity.resolve(observe("user_id:u-1", "anonymous_id:d2"), limits=limits)
    [third] = identity.resolve(observe("user_id:u-1", "anonymous_id:d3"), limits=limits)
    assert third is not None and not third.created  # the event still joins by its user id
    assert identity.partition() == all_keys([("user_id:u-1", "anonymous_id:d1", "anonymous_id:d2")])
    # The device set aside is not an identifier of anybody: alone, it starts a new profile.
    [alone] = identity.resolve(observe("anonymous_id:d3"), limits=limits)
    assert alone is not None and alone.created


def test_merging_over_a_limit_sets_aside_the_identifier_that_would_merge(
    identity: Identity,
) -> None:
    limits = {"email": 2}
    [anna] = identity.resolve(
        observe("email:a1@example.it", "email:a2@example.it", "phone:3470000001"), limits=limits
    )
    identity.resolve(observe("email:b1@example.it", "phone:3470000002"), limits=limits)
    # Joining both would give one customer three e-mails: the lowest-priority identifier
    # (the second phone) is set aside first, which is enough.
    [result] = identity.resolve(observe("email:a1@example.it", "phone:3470000002"), limits=limits)
    assert result is not None and anna is not None
    assert result.customer_id == anna.customer_id
    assert identity.partition() == all_keys(
        [
            ("email:a1@example.it", "email:a2@example.it", "phone:+393470000001"),
            ("email:b1@example.it", "phone:+393470000002"),
        ]
    )


def test_identifiers_are_set_aside_in_priority_order(identity: Identity) -> None:
    limits = {"loyalty_card": 1}
    identity.resolve(observe("user_id:u-1", "loyalty_card:LC-1"), limits=limits)
    # Two cards cannot fit: the device, the shop id, the phone, the e-mail and finally the second
    # card are set aside in that order until the rest fits.
    identity.resolve(
        observe(
            "user_id:u-1",
            "loyalty_card:LC-2",
            "email:u1@example.it",
            "phone:3470000001",
            "shopify:77",
            "anonymous_id:d1",
        ),
        limits=limits,
    )
    assert identity.partition() == all_keys([("user_id:u-1", "loyalty_card:LC-1")])

    # With room for two cards, only what exceeds is set aside: the lowest-priority first.
    identity.resolve(
        observe("user_id:u-2", "email:x@example.it", "email:y@example.it", "anonymous_id:d2"),
        limits={"email": 1},
    )
    assert keys("user_id:u-2", "email:x@example.it") in identity.partition()


def test_default_limits_are_the_contracts(identity: Identity) -> None:
    from phygital.identity.resolution import DEFAULT_LIMITS, EXTERNAL_LIMIT

    assert DEFAULT_LIMITS == {
        "user_id": 1,
        "email": 5,
        "phone": 5,
        "loyalty_card": 5,
        "anonymous_id": 50,
    }
    assert EXTERNAL_LIMIT == 5


def test_a_device_seen_with_too_many_people_stops_joining(identity: Identity) -> None:
    limits = {"email": 2}
    identity.resolve(
        observe("anonymous_id:kiosk"),
        observe("anonymous_id:kiosk", "email:a@example.it"),
        observe("email:a@example.it", "email:b@example.it"),
        limits=limits,
    )
    # A third e-mail arriving with the device cannot join: it gets a profile of its own.
    [third] = identity.resolve(
        observe("anonymous_id:kiosk", "email:a@example.it", "email:c@example.it"), limits=limits
    )
    assert third is not None
    assert identity.partition() == all_keys(
        [("anonymous_id:kiosk", "email:a@example.it", "email:b@example.it")]
    )


def test_traits_follow_event_time_not_arrival_order(tracked: Identity) -> None:
    tracked.send(
        {
            "type": "identify",
            "userId": "u-1",
            "traits": {"first_name": "Giulia", "city": "Milano"},
            "timestamp": T3.isoformat(),
        }
    )
    # A late-arriving older identify: its city is older, its new trait is kept.
    tracked.send(
        {
            "type": "identify",
            "userId": "u-1",
            "traits": {"city": "Torino", "shoe_size": 38},
            "timestamp": T1.isoformat(),
        }
    )
    [customer] = tracked.customers()
    assert customer.traits["city"] == "Milano"
    assert customer.traits["first_name"] == "Giulia"
    assert customer.traits["shoe_size"] == 38


def test_traits_of_merged_profiles_follow_event_time(identity: Identity) -> None:
    identity.resolve(observe("email:g@example.it", at=T3, traits={"city": "Milano"}))
    identity.clock.advance(timedelta(minutes=1))
    identity.resolve(observe("phone:3471234567", at=T1, traits={"city": "Torino", "vip": True}))
    identity.resolve(observe("email:g@example.it", "phone:3471234567", at=T2))
    [customer] = identity.customers()
    assert customer.traits == {"city": "Milano", "vip": True}


def test_traits_within_one_batch_follow_event_time(identity: Identity) -> None:
    identity.resolve(
        observe("user_id:u-1", at=T2, traits={"city": "Milano"}),
        observe("user_id:u-1", at=T1, traits={"city": "Torino"}),
    )
    [customer] = identity.customers()
    assert customer.traits == {"city": "Milano"}


def test_a_merged_id_stays_readable_and_returns_the_survivor(
    tracked: Identity, client: TestClient, principals: Principals
) -> None:
    tracked.send({"type": "identify", "userId": "u-1"})
    tracked.clock.advance(timedelta(minutes=1))
    tracked.send({"type": "identify", "anonymousId": "d-1", "traits": {"email": "g@example.it"}})
    merged_away = tracked.customer_of("email:g@example.it").id
    survivor = tracked.customer_of("user_id:u-1").id
    tracked.send({"type": "identify", "userId": "u-1", "traits": {"email": "g@example.it"}})

    response = client.get(f"/api/v1/customers/{merged_away}", headers=principals.seller_a.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == survivor
    assert {(i["kind"], i["value"]) for i in body["identifiers"]} == {
        ("user_id", "u-1"),
        ("email", "g@example.it"),
        ("anonymous_id", "d-1"),
    }


def test_events_are_attached_and_stats_follow_them(tracked: Identity) -> None:
    tracked.send(
        {
            "type": "page",
            "anonymousId": "dev-1",
            "name": "Home",
            "timestamp": T2.isoformat(),
            "messageId": "p1",
        },
        {
            "type": "track",
            "anonymousId": "dev-1",
            "event": "Product Viewed",
            "properties": {"sku": "HELM-1"},
            "timestamp": T1.isoformat(),
            "messageId": "p2",
        },
    )
    tracked.send(
        {
            "type": "track",
            "userId": "u-1",
            "anonymousId": "till-3",
            "event": "Product Tried",
            "context": {"traits": {"email": "g@example.it"}},
            "timestamp": T3.isoformat(),
            "messageId": "s1",
        },
        source="store",
    )
    tracked.send(
        {
            "type": "identify",
            "userId": "u-1",
            "anonymousId": "dev-1",
            "timestamp": T2.isoformat(),
            "messageId": "p3",
        }
    )
    # A retried message is stored once and counted once.
    tracked.send({"type": "identify", "userId": "u-1", "anonymousId": "dev-1", "messageId": "p3"})

    [customer] = tracked.customers()
    assert customer.events == 4
    assert customer.first_seen_at == T1
    assert customer.last_seen_at == T3
    assert customer.channels == ["store", "web"]  # most recent first
    with tracked.factory() as session:
        attached = {m: p for m, p in session.execute(select(Event.message_id, Event.profile_id))}
    assert set(attached) == {"p1", "p2", "s1", "p3"}
    assert set(attached.values()) <= set(customer.member_ids)


def test_observations_that_are_not_events_change_no_stats(identity: Identity) -> None:
    obs = observe("email:g@example.it", traits={"first_name": "Giulia"})
    obs.counts_as_event = False
    identity.resolve(obs)
    [customer] = identity.customers()
    assert customer.events == 0
    assert customer.first_seen_at is None and customer.channels == []
    assert customer.traits == {"first_name": "Giulia"}


def test_alias_between_two_user_ids_in_one_batch_is_a_conflict_too(tracked: Identity) -> None:
    tracked.send(
        {"type": "identify", "userId": "a-old", "traits": {"email": "old@example.it"}},
        {"type": "identify", "userId": "z-new", "traits": {"email": "new@example.it"}},
        {"type": "alias", "previousId": "a-old", "userId": "z-new"},
    )
    assert tracked.partition() == all_keys(
        [("user_id:a-old", "email:old@example.it"), ("user_id:z-new", "email:new@example.it")]
    )
