"""The customers API (contract, section 4 — Customers): search, create, read, timeline, merge,
unmerge, merge history, consents, and who may do what."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import START, Principals
from tests.factories import TestPrincipal
from tests.identity.conftest import Identity

API = "/api/v1/customers"


def create(
    client: TestClient,
    who: TestPrincipal,
    *identifiers: tuple[str, str],
    traits: dict[str, Any] | None = None,
    status: int = 201,
) -> dict[str, Any]:
    response = client.post(
        API,
        json={
            "traits": traits or {},
            "identifiers": [{"kind": k, "value": v} for k, v in identifiers],
        },
        headers=who.headers,
    )
    assert response.status_code == status, response.text
    return response.json()


def search(client: TestClient, who: TestPrincipal, **params: Any) -> list[dict[str, Any]]:
    response = client.get(API, params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def ids_of(items: list[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


def pairs(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(i["kind"], i["value"]) for i in body["identifiers"]}


def is_aware(text: str) -> bool:
    return datetime.fromisoformat(text).tzinfo is not None


@pytest.fixture
def giulia(client: TestClient, principals: Principals) -> dict[str, Any]:
    return create(
        client,
        principals.seller_a,
        ("email", "Giulia.Rossi@Example.it"),
        ("phone", "+39 347 123 4567"),
        ("loyalty_card", "lc-1"),
        ("shopify", "12345"),
        ("user_id", "cust-812"),
        traits={"first_name": "Giulia", "last_name": "Rossi"},
    )


# -- search ------------------------------------------------------------------------------------


def assert_finds(
    client: TestClient, who: TestPrincipal, customer: dict[str, Any], **params: str
) -> None:
    items = search(client, who, **params)
    assert ids_of(items) == [customer["id"]], params


def test_search_normalises_email_and_phone_first(
    client: TestClient, principals: Principals, giulia: dict[str, Any]
) -> None:
    create(client, principals.manager, ("email", "marco@example.com"), ("phone", "3470000001"))
    who = principals.seller_b
    assert_finds(client, who, giulia, email="  GIULIA.ROSSI@example.IT ")
    for written in ("347 123 4567", "+393471234567", "0039 347 1234567", "+39 347-123-4567"):
        assert_finds(client, who, giulia, phone=written)


def test_search_by_user_id_and_by_kind_value_identifier(
    client: TestClient, principals: Principals, giulia: dict[str, Any]
) -> None:
    create(client, principals.manager, ("user_id", "cust-813"), ("shopify", "12346"))
    who = principals.seller_a
    assert_finds(client, who, giulia, user_id="cust-812")
    for ref in (
        "loyalty_card:LC-1",
        "loyalty_card:lc-1",
        "shopify:12345",
        "email:Giulia.Rossi@example.it",
        "phone:347 123 4567",
        "user_id:cust-812",
    ):
        assert_finds(client, who, giulia, identifier=ref)


def test_q_searches_names_emails_and_phones(
    client: TestClient, principals: Principals, giulia: dict[str, Any]
) -> None:
    create(client, principals.manager, ("email", "marco@example.com"), traits={"name": "Marco"})
    for q in ("giulia", "ROSSI", "giulia r", "rossi@example.it", "3471234", "+39347"):
        assert_finds(client, principals.owner, giulia, q=q)
    assert len(search(client, principals.owner, q="example")) == 2


def test_search_items_summarise_the_customer(
    client: TestClient, principals: Principals, giulia: dict[str, Any]
) -> None:
    assert search(client, principals.owner, user_id="cust-812") == [
        {
            "id": giulia["id"],
            "name": "Giulia Rossi",
            "email": "giulia.rossi@example.it",
            "phone": "+393471234567",
            "last_seen_at": None,
        }
    ]


def test_search_without_a_match_is_empty(
    client: TestClient, principals: Principals, giulia: dict[str, Any]
) -> None:
    for param, value in (
        ("email", "nobody@example.it"),
        ("phone", "347 000 0001"),
        ("user_id", "cust-999"),
        ("identifier", "shopify:99999"),
        ("identifier", "woocommerce:12345"),
        ("q", "bianchi"),
    ):
        response = client.get(API, params={param: value}, headers=principals.owner.headers)
        assert response.status_code == 200
        assert response.json() == {"items": [], "next": None}, param


def test_search_filters_combine(
    client: TestClient, principals: Principals, giulia: dict[str, Any]
) -> None:
    create(client, principals.owner, ("email", "marco@example.it"))
    who = principals.owner
    assert ids_of(search(client, who, email="giulia.rossi@example.it", q="rossi")) == [giulia["id"]]
    assert search(client, who, email="marco@example.it", q="rossi") == []
    assert search(client, who, email="marco@example.it", phone="3471234567") == []


def test_q_finds_a_customer_by_a_merged_members_name_once(
    client: TestClient, principals: Principals
) -> None:
    a = create(client, principals.owner, ("email", "g@example.it"), traits={"name": "Giulia"})
    b = create(client, principals.owner, ("phone", "3471234567"), traits={"last_name": "Verdi"})
    merged = client.post(
        f"{API}/{a['id']}/merge", json={"other_id": b["id"]}, headers=principals.manager.headers
    )
    assert merged.status_code == 200
    assert ids_of(search(client, principals.owner, q="verdi")) == [merged.json()["id"]]


def test_search_rejects_bad_input_naming_the_field(
    client: TestClient, principals: Principals
) -> None:
    for params, field in (
        ({"email": "not-an-email"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"user_id": "undefined"}, "user_id"),
        ({"identifier": "shopify"}, "identifier"),
        ({"identifier": "loyalty_card:null"}, "identifier"),
        ({"email": "g@example.it", "identifier": "nope"}, "identifier"),
        ({"q": "a"}, "q"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ):
        response = client.get(API, params=params, headers=principals.owner.headers)
        assert response.status_code == 422, (params, response.text)
        [error] = response.json()["detail"]
        assert error["loc"][-1] == field, params


def test_search_pages_newest_first_without_repeats(
    client: TestClient, principals: Principals, identity: Identity
) -> None:
    created = []
    for n in range(7):
        if n % 3 == 0:  # some created at the very same time: the id breaks the tie
            identity.clock.advance(timedelta(minutes=1))
        created.append(create(client, principals.owner, ("email", f"c{n}@example.it")))
    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, "q": "@example.it"}
        if cursor:
            params["cursor"] = cursor
        body = client.get(API, params=params, headers=principals.owner.headers).json()
        seen += body["items"]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == 7 and len(set(ids_of(seen))) == 7
    by_id = {c["id"]: c for c in created}
    keys = [(by_id[i]["created_at"], i) for i in ids_of(seen)]
    assert keys == sorted(keys, reverse=True)


def test_search_lists_everyone_without_filters(client: TestClient, principals: Principals) -> None:
    create(client, principals.owner, ("email", "a@example.it"))
    create(client, principals.owner, ("email", "b@example.it"))
    assert len(search(client, principals.seller_a)) == 2


# -- create and read ---------------------------------------------------------------------------


def test_create_answers_201_then_200_for_known_identifiers(
    client: TestClient, principals: Principals, giulia: dict[str, Any]
) -> None:
    again = create(
        client,
        principals.seller_b,
        ("email", "giulia.rossi@example.it"),
        ("phone", "3479999999"),
        traits={"city": "Milano"},
        status=200,
    )
    assert again["id"] == giulia["id"]
    assert ("phone", "+393479999999") in pairs(again)
    assert again["traits"]["city"] == "Milano"


def test_create_stores_normalised_identifiers_and_traits(
    client: TestClient, principals: Principals, giulia: dict[str, Any]
) -> None:
    assert pairs(giulia) == {
        ("user_id", "cust-812"),
        ("loyalty_card", "LC-1"),
        ("email", "giulia.rossi@example.it"),
        ("phone", "+393471234567"),
        ("shopify", "12345"),
    }
    assert giulia["traits"] == {"first_name": "Giulia", "last_name": "Rossi"}


def test_create_joining_two_customers_merges_them(
    client: TestClient, principals: Principals, identity: Identity
) -> None:
    a = create(client, principals.owner, ("email", "g@example.it"))
    identity.clock.advance(timedelta(minutes=1))
    b = create(client, principals.owner, ("phone", "3471234567"))
    both = create(
        client, principals.owner, ("email", "g@example.it"), ("phone", "3471234567"), status=200
    )
    assert both["id"] == a["id"]
    assert client.get(f"{API}/{b['id']}", headers=principals.owner.headers).json()["id"] == a["id"]


@pytest.mark.parametrize(
    ("identifiers", "field"),
    [
        ([{"kind": "email", "value": "g@example.it"}, {"kind": "email", "value": "nope"}], 1),
        ([{"kind": "phone", "value": "12"}], 0),
        ([{"kind": "user_id", "value": "undefined"}], 0),
        ([{"kind": "email", "value": "g@example.it"}, {"kind": "Bad Kind", "value": "1"}], 1),
    ],
)
def test_create_rejects_bad_identifiers_naming_the_field(
    client: TestClient, principals: Principals, identifiers: list[dict[str, str]], field: int
) -> None:
    response = client.post(
        API, json={"traits": {}, "identifiers": identifiers}, headers=principals.owner.headers
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"][-1] in (f"identifiers.{field}", field)
    assert search(client, principals.owner) == []


def test_create_needs_an_identifier(client: TestClient, principals: Principals) -> None:
    response = client.post(
        API, json={"traits": {"name": "X"}, "identifiers": []}, headers=principals.owner.headers
    )
    assert response.status_code == 422


def test_get_returns_the_customer_in_the_contracts_shape(
    client: TestClient, principals: Principals, giulia: dict[str, Any]
) -> None:
    response = client.get(f"{API}/{giulia['id']}", headers=principals.seller_a.headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"id", "created_at", "traits", "identifiers", "consents", "stats"}
    assert body == giulia
    assert is_aware(body["created_at"])
    assert set(body["stats"]) >= {"orders", "revenue", "first_seen_at", "last_seen_at", "channels"}
    assert body["stats"]["orders"] == 0
    assert body["stats"]["channels"] == []
    assert body["consents"] == {}
    assert all(set(i) == {"kind", "value"} for i in body["identifiers"])


def test_get_unknown_customer_is_404(client: TestClient, principals: Principals) -> None:
    response = client.get(f"{API}/{'0' * 32}", headers=principals.owner.headers)
    assert response.status_code == 404
    assert "detail" in response.json()


# -- timeline ------------------------------------------------------------------------------


def test_timeline_pages_newest_first_across_equal_times(
    client: TestClient, principals: Principals, tracked: Identity
) -> None:
    t = START - timedelta(hours=1)
    messages = []
    for n in range(9):
        at = t + timedelta(minutes=n // 3)  # three events at each time
        messages.append(
            {
                "type": "track",
                "userId": "u-1",
                "event": f"Step {n}",
                "timestamp": at.isoformat(),
                "messageId": f"m{n}",
            }
        )
    tracked.send(*messages[:5])
    tracked.send(*messages[5:], source="store")
    customer_id = tracked.customer_of("user_id:u-1").id

    items: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = client.get(
            f"{API}/{customer_id}/timeline", params=params, headers=principals.seller_b.headers
        )
        assert response.status_code == 200
        body = response.json()
        assert len(body["items"]) <= 2
        items += body["items"]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert pages == 5
    assert sorted(i["summary"] for i in items) == sorted(f"Step {n}" for n in range(9))
    assert len({i["ref"] for i in items}) == 9
    times = [datetime.fromisoformat(i["at"]) for i in items]
    assert times == sorted(times, reverse=True)
    assert all(is_aware(i["at"]) for i in items)
    assert {i["channel"] for i in items} == {"web", "store"}
    assert set(items[0]) == {"at", "channel", "kind", "summary", "ref"}


def test_timeline_holds_the_events_of_every_merged_member(
    client: TestClient, principals: Principals, tracked: Identity
) -> None:
    tracked.send({"type": "page", "anonymousId": "dev-1", "name": "Home"})
    tracked.send({"type": "identify", "userId": "u-1", "traits": {"email": "g@example.it"}})
    tracked.send({"type": "identify", "userId": "u-1", "anonymousId": "dev-1"})
    customer_id = tracked.customer_of("user_id:u-1").id
    body = client.get(f"{API}/{customer_id}/timeline", headers=principals.owner.headers).json()
    assert sorted(i["kind"] for i in body["items"]) == ["identify", "identify", "page"]
    assert body["next"] is None


# -- merge and unmerge -----------------------------------------------------------------------


def test_manager_merges_two_customers_into_the_older(
    client: TestClient, principals: Principals, tracked: Identity
) -> None:
    tracked.send({"type": "identify", "userId": "u-1", "traits": {"email": "g@example.it"}})
    tracked.clock.advance(timedelta(minutes=1))
    tracked.send(
        {
            "type": "track",
            "anonymousId": "dev-9",
            "event": "Viewed",
            "context": {"traits": {"phone": "3471234567"}},
        },
        {"type": "track", "anonymousId": "dev-9", "event": "Viewed again"},
    )
    older = tracked.customer_of("user_id:u-1").id
    newer = tracked.customer_of("phone:+393471234567").id

    response = client.post(
        f"{API}/{newer}/merge", json={"other_id": older}, headers=principals.manager.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == older
    assert pairs(body) == {
        ("user_id", "u-1"),
        ("email", "g@example.it"),
        ("phone", "+393471234567"),
        ("anonymous_id", "dev-9"),
    }
    assert body["stats"]["events"] == 3

    history = client.get(f"{API}/{newer}/merges", headers=principals.seller_a.headers)
    assert history.status_code == 200
    [record] = history.json()
    assert (record["survivor_id"], record["merged_id"], record["cause"]) == (older, newer, "manual")
    assert record["undone_at"] is None
    assert record["detail"]["by"]


def test_merging_customers_with_different_user_ids_is_409(
    client: TestClient, principals: Principals
) -> None:
    a = create(client, principals.owner, ("user_id", "u-1"), ("email", "a@example.it"))
    b = create(client, principals.owner, ("user_id", "u-2"))
    response = client.post(
        f"{API}/{a['id']}/merge", json={"other_id": b["id"]}, headers=principals.owner.headers
    )
    assert response.status_code == 409
    assert "detail" in response.json()
    assert len(search(client, principals.owner)) == 2


def test_merging_over_a_per_kind_limit_is_409(client: TestClient, principals: Principals) -> None:
    a = create(client, principals.owner, *(("email", f"a{n}@example.it") for n in range(3)))
    b = create(client, principals.owner, *(("email", f"b{n}@example.it") for n in range(3)))
    response = client.post(
        f"{API}/{a['id']}/merge", json={"other_id": b["id"]}, headers=principals.owner.headers
    )
    assert response.status_code == 409
    assert "email" in str(response.json()["detail"])


def test_merging_a_customer_with_itself_changes_nothing(
    client: TestClient, principals: Principals
) -> None:
    a = create(client, principals.owner, ("email", "a@example.it"))
    response = client.post(
        f"{API}/{a['id']}/merge", json={"other_id": a["id"]}, headers=principals.owner.headers
    )
    assert response.status_code == 200
    assert response.json()["id"] == a["id"]
    assert client.get(f"{API}/{a['id']}/merges", headers=principals.owner.headers).json() == []


def test_merging_an_unknown_customer_is_404(client: TestClient, principals: Principals) -> None:
    a = create(client, principals.owner, ("email", "a@example.it"))
    response = client.post(
        f"{API}/{a['id']}/merge", json={"other_id": "f" * 32}, headers=principals.owner.headers
    )
    assert response.status_code == 404


def test_unmerge_restores_the_identifiers_and_events_the_other_brought(
    client: TestClient, principals: Principals, tracked: Identity
) -> None:
    tracked.send(
        {
            "type": "identify",
            "userId": "u-1",
            "traits": {"email": "g@example.it", "city": "Milano"},
        },
        {"type": "track", "userId": "u-1", "event": "Ordered"},
    )
    tracked.clock.advance(timedelta(minutes=1))
    tracked.send(
        {
            "type": "identify",
            "anonymousId": "dev-9",
            "traits": {"phone": "3471234567", "city": "Roma"},
        },
        {"type": "track", "anonymousId": "dev-9", "event": "Viewed", "properties": {"sku": "X"}},
        {"type": "track", "anonymousId": "dev-9", "event": "Viewed again"},
        source="store",
    )
    older = client.get(API, params={"user_id": "u-1"}, headers=principals.owner.headers).json()
    newer = client.get(API, params={"phone": "3471234567"}, headers=principals.owner.headers)
    older_id, newer_id = older["items"][0]["id"], newer.json()["items"][0]["id"]
    before_older = client.get(f"{API}/{older_id}", headers=principals.owner.headers).json()
    before_newer = client.get(f"{API}/{newer_id}", headers=principals.owner.headers).json()
    newer_timeline = client.get(f"{API}/{newer_id}/timeline", headers=principals.owner.headers)

    merged = client.post(
        f"{API}/{older_id}/merge", json={"other_id": newer_id}, headers=principals.owner.headers
    ).json()
    assert merged["stats"]["events"] == 5

    response = client.post(
        f"{API}/{older_id}/unmerge", json={"other_id": newer_id}, headers=principals.manager.headers
    )
    assert response.status_code == 200, response.text
    restored = response.json()
    assert restored["id"] == newer_id
    assert restored == before_newer
    assert client.get(f"{API}/{older_id}", headers=principals.owner.headers).json() == before_older
    after_timeline = client.get(f"{API}/{newer_id}/timeline", headers=principals.owner.headers)
    assert after_timeline.json() == newer_timeline.json()

    [record] = client.get(f"{API}/{older_id}/merges", headers=principals.owner.headers).json()
    assert record["merged_id"] == newer_id
    assert record["undone_at"] is not None


def test_unmerging_the_survivor_is_409_and_a_stranger_404(
    client: TestClient, principals: Principals, identity: Identity
) -> None:
    a = create(client, principals.owner, ("email", "a@example.it"))
    identity.clock.advance(timedelta(minutes=1))
    b = create(client, principals.owner, ("email", "b@example.it"))
    c = create(client, principals.owner, ("email", "c@example.it"))
    client.post(
        f"{API}/{a['id']}/merge", json={"other_id": b["id"]}, headers=principals.owner.headers
    )
    survivor = client.post(
        f"{API}/{b['id']}/unmerge", json={"other_id": a["id"]}, headers=principals.owner.headers
    )
    assert survivor.status_code == 409
    stranger = client.post(
        f"{API}/{a['id']}/unmerge", json={"other_id": c["id"]}, headers=principals.owner.headers
    )
    assert stranger.status_code == 404


def test_unmerge_of_an_automatic_merge_gives_back_each_side(
    client: TestClient, principals: Principals, tracked: Identity
) -> None:
    tracked.send({"type": "identify", "userId": "u-1", "traits": {"email": "g@example.it"}})
    tracked.clock.advance(timedelta(minutes=1))
    tracked.send({"type": "page", "anonymousId": "dev-1", "name": "Home"})
    tracked.send({"type": "alias", "previousId": "dev-1", "userId": "u-1"})
    survivor = tracked.customer_of("user_id:u-1")
    other = next(m for m in survivor.member_ids if m != survivor.id)
    [record] = client.get(f"{API}/{other}/merges", headers=principals.owner.headers).json()
    assert record["cause"] == "alias"

    response = client.post(
        f"{API}/{survivor.id}/unmerge", json={"other_id": other}, headers=principals.owner.headers
    )
    assert response.status_code == 200
    assert pairs(response.json()) == {("anonymous_id", "dev-1")}
    assert response.json()["stats"]["events"] == 1


# -- consents ------------------------------------------------------------------------------


def test_consents_put_are_shown_on_the_customer(
    client: TestClient, principals: Principals, giulia: dict[str, Any]
) -> None:
    response = client.put(
        f"{API}/{giulia['id']}/consents",
        json={
            "consents": [
                {"purpose": "marketing", "channel": "email", "granted": True, "wording": "Sì"},
                {"purpose": "marketing", "channel": "whatsapp", "granted": False},
            ]
        },
        headers=principals.seller_a.headers,
    )
    assert response.status_code == 200, response.text
    consents = client.get(f"{API}/{giulia['id']}", headers=principals.owner.headers).json()[
        "consents"
    ]
    assert consents["marketing"]["email"]["granted"] is True
    assert consents["marketing"]["whatsapp"]["granted"] is False
    assert response.json()["consents"] == consents

    later = (START + timedelta(days=1)).isoformat()
    client.put(
        f"{API}/{giulia['id']}/consents",
        json={
            "consents": [
                {"purpose": "marketing", "channel": "email", "granted": False, "at": later}
            ]
        },
        headers=principals.owner.headers,
    )
    consents = client.get(f"{API}/{giulia['id']}", headers=principals.owner.headers).json()[
        "consents"
    ]
    assert consents["marketing"]["email"]["granted"] is False


def test_consents_reject_unknown_purposes(
    client: TestClient, principals: Principals, giulia: dict[str, Any]
) -> None:
    response = client.put(
        f"{API}/{giulia['id']}/consents",
        json={"consents": [{"purpose": "spam", "channel": "email", "granted": True}]},
        headers=principals.owner.headers,
    )
    assert response.status_code == 422


def test_consents_of_a_merged_member_belong_to_the_customer(
    client: TestClient, principals: Principals, identity: Identity
) -> None:
    a = create(client, principals.owner, ("email", "a@example.it"))
    identity.clock.advance(timedelta(minutes=1))
    b = create(client, principals.owner, ("phone", "3471234567"))
    client.put(
        f"{API}/{b['id']}/consents",
        json={"consents": [{"purpose": "service", "channel": "sms", "granted": True}]},
        headers=principals.owner.headers,
    )
    merged = client.post(
        f"{API}/{a['id']}/merge", json={"other_id": b["id"]}, headers=principals.owner.headers
    ).json()
    assert merged["consents"]["service"]["sms"]["granted"] is True


# -- who may do what -----------------------------------------------------------------------

EVERY_ROLE = ["seller_a", "seller_b", "manager", "owner"]
SELLERS = ["seller_a", "seller_b"]
MANAGERS = ["manager", "owner"]


@pytest.mark.parametrize("role", EVERY_ROLE)
def test_every_role_reads_searches_and_creates_customers(
    client: TestClient, principals: Principals, giulia: dict[str, Any], role: str
) -> None:
    who: TestPrincipal = getattr(principals, role)
    cid = giulia["id"]
    assert client.get(API, headers=who.headers).status_code == 200
    assert client.get(f"{API}/{cid}", headers=who.headers).status_code == 200
    assert client.get(f"{API}/{cid}/timeline", headers=who.headers).status_code == 200
    assert client.get(f"{API}/{cid}/merges", headers=who.headers).status_code == 200
    create(client, who, ("email", f"{role}@customers.it"))


@pytest.mark.parametrize("role", SELLERS)
def test_sellers_may_not_export_erase_merge_or_unmerge(
    client: TestClient, principals: Principals, giulia: dict[str, Any], role: str
) -> None:
    who: TestPrincipal = getattr(principals, role)
    other = create(client, principals.owner, ("email", "other@example.it"))
    cid = giulia["id"]
    body = {"other_id": other["id"]}
    assert client.get(f"{API}/{cid}/export", headers=who.headers).status_code == 403
    assert client.delete(f"{API}/{cid}", headers=who.headers).status_code == 403
    assert client.post(f"{API}/{cid}/merge", json=body, headers=who.headers).status_code == 403
    assert client.post(f"{API}/{cid}/unmerge", json=body, headers=who.headers).status_code == 403
    assert len(search(client, principals.owner)) == 2


@pytest.mark.parametrize("role", MANAGERS)
def test_managers_and_the_owner_export_merge_unmerge_and_erase(
    client: TestClient, principals: Principals, giulia: dict[str, Any], role: str
) -> None:
    who: TestPrincipal = getattr(principals, role)
    other = create(client, principals.owner, ("email", "other@example.it"))
    cid = giulia["id"]
    body = {"other_id": other["id"]}
    assert client.get(f"{API}/{cid}/export", headers=who.headers).status_code == 200
    merged = client.post(f"{API}/{cid}/merge", json=body, headers=who.headers)
    assert merged.status_code == 200
    survivor = merged.json()["id"]
    merged_away = other["id"] if survivor == cid else cid
    unmerge = client.post(
        f"{API}/{survivor}/unmerge", json={"other_id": merged_away}, headers=who.headers
    )
    assert unmerge.status_code == 200, unmerge.text
    assert client.delete(f"{API}/{cid}", headers=who.headers).status_code == 204


def test_no_token_or_a_revoked_one_is_401(
    client: TestClient, principals: Principals, giulia: dict[str, Any]
) -> None:
    routes = [
        ("GET", ""),
        ("POST", ""),
        ("GET", "/{id}"),
        ("GET", "/{id}/timeline"),
        ("GET", "/{id}/merges"),
        ("POST", "/{id}/merge"),
        ("POST", "/{id}/unmerge"),
        ("PUT", "/{id}/consents"),
        ("GET", "/{id}/export"),
        ("DELETE", "/{id}"),
    ]
    for method, path in routes:
        url = API + path.format(id=giulia["id"])
        for headers in ({}, principals.outsider.headers, {"Authorization": "Bearer nonsense"}):
            response = client.request(method, url, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers, response.text)
    assert client.get(f"{API}/{giulia['id']}", headers=principals.owner.headers).status_code == 200


def test_merge_and_unmerge_are_written_to_the_audit_log(
    client: TestClient,
    principals: Principals,
    db,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    from sqlalchemy import select

    from phygital.privacy.models import AuditEntry

    first = create(client, principals.owner, ("email", "one@example.com"))
    clock.advance(timedelta(seconds=1))
    second = create(client, principals.owner, ("email", "two@example.com"))
    merged = client.post(
        f"/api/v1/customers/{first['id']}/merge",
        json={"other_id": second["id"]},
        headers=principals.manager.headers,
    )
    assert merged.status_code == 200
    client.post(
        f"/api/v1/customers/{first['id']}/unmerge",
        json={"other_id": second["id"]},
        headers=principals.manager.headers,
    )
    entries = db.scalars(select(AuditEntry).order_by(AuditEntry.at, AuditEntry.action)).all()
    assert [(e.action, e.actor) for e in entries] == [
        ("merge", "manager token"),
        ("unmerge", "manager token"),
    ]
    assert "one@example.com" not in str([e.detail for e in entries])
