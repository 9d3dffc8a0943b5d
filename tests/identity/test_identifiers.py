"""Identifiers: normalisation and the placeholder blocklist (contract, section 3). Pure code."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from phygital.identity import identifiers as ids
from phygital.identity.identifiers import Ident, IdentifierError

REGION = "IT"


def norm(kind: str, value: object) -> str:
    return ids.normalise(kind, value, region=REGION).value


def test_email_is_trimmed_and_lower_cased() -> None:
    assert norm("email", "  Giulia.Rossi@Example.COM \n") == "giulia.rossi@example.com"


@pytest.mark.parametrize(
    "written",
    ["347 123 4567", "3471234567", "+39 347 123 4567", "0039 347 1234567", "+39-347-123-4567"],
)
def test_phone_becomes_e164_with_the_default_region(written: str) -> None:
    assert norm("phone", written) == "+393471234567"


def test_phone_with_its_own_country_code_keeps_it() -> None:
    assert norm("phone", "+1 415 555 2671") == "+14155552671"


def test_phone_region_is_the_one_given() -> None:
    assert ids.normalise("phone", "020 7946 0958", region="GB").value == "+442079460958"


def test_loyalty_card_is_upper_cased_without_spaces() -> None:
    assert norm("loyalty_card", " lc-1 ") == "LC-1"
    assert norm("loyalty_card", "lc 000 123") == "LC000123"


def test_external_id_kind_is_its_lower_cased_namespace() -> None:
    assert ids.normalise(" Shopify ", " 12345 ", region=REGION) == Ident("shopify", "12345")


def test_numeric_ids_are_text_without_a_decimal_part() -> None:
    assert norm("user_id", 1001) == "1001"
    assert norm("user_id", 1001.0) == "1001"


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("email", "not-an-email"),
        ("email", "a@b"),
        ("phone", "12"),
        ("phone", "call me"),
        ("user_id", "x" * 256),
        ("Not A Kind!", "1"),
    ],
)
def test_invalid_values_are_refused_with_a_reason(kind: str, value: str) -> None:
    with pytest.raises(IdentifierError) as exc:
        ids.normalise(kind, value, region=REGION)
    assert str(exc.value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "null",
        "NULL",
        "None",
        "nil",
        "undefined",
        "NaN",
        "anonymous",
        "Guest",
        "unknown",
        "n/a",
        "0",
        "-1",
        "00",
        "0000000000",
        "-",
        "----",
        "00-00-00",
        "00000000-0000-0000-0000-000000000000",
        "[object Object]",
        "true",
        "false",
    ],
)
def test_placeholders_are_never_identifiers(value: str) -> None:
    assert ids.is_placeholder(value)
    for kind in ("user_id", "anonymous_id", "loyalty_card", "shopify"):
        with pytest.raises(IdentifierError):
            ids.normalise(kind, value, region=REGION)


@pytest.mark.parametrize("value", [None, True, False, {}, [], {"id": 1}, 0, -1, 0.0])
def test_non_values_are_never_identifiers(value: object) -> None:
    with pytest.raises(IdentifierError):
        ids.normalise("user_id", value, region=REGION)


@pytest.mark.parametrize("value", ["test@test.com", "None@None.com", "example@example.com"])
def test_placeholder_emails_are_never_identifiers(value: str) -> None:
    with pytest.raises(IdentifierError):
        ids.normalise("email", value, region=REGION)


@pytest.mark.parametrize("value", ["0000000000", "+39 000 000 0000", "+390000000000", "-1"])
def test_all_zero_phone_numbers_are_placeholders(value: str) -> None:
    with pytest.raises(IdentifierError):
        ids.normalise("phone", value, region=REGION)


@pytest.mark.parametrize("value", ["11", "1001", "10", "7", "100", "a", "u-0", "0x1", "-2"])
def test_real_ids_that_look_simple_are_not_placeholders(value: str) -> None:
    assert not ids.is_placeholder(value)
    assert norm("user_id", value) == value


def test_collect_skips_placeholders_and_bad_values_and_orders_by_priority() -> None:
    found, problems = ids.collect(
        [
            ("anonymous_id", "dev-1"),
            ("phone", "347 123 4567"),
            ("email", "undefined"),
            ("email", "Giulia@Example.com"),
            ("user_id", "u-1"),
            ("shopify", "12345"),
            ("loyalty_card", "lc-9"),
            ("email", "giulia@example.com "),
            ("phone", "not a phone"),
            ("user_id", None),
        ],
        region=REGION,
    )
    assert [i.key for i in found] == [
        "user_id:u-1",
        "loyalty_card:LC-9",
        "email:giulia@example.com",
        "phone:+393471234567",
        "shopify:12345",
        "anonymous_id:dev-1",
    ]
    assert len(problems) == 2
    assert any(p.startswith("email:") for p in problems)
    assert any(p.startswith("phone:") for p in problems)


def test_collect_strict_raises_on_the_first_bad_value() -> None:
    with pytest.raises(IdentifierError):
        ids.collect([("email", "null")], region=REGION, lenient=False)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("loyalty_card:LC-1", Ident("loyalty_card", "LC-1")),
        ("shopify:12345", Ident("shopify", "12345")),
        ("email:Giulia@Example.com", Ident("email", "giulia@example.com")),
        ("user_id:a:b", Ident("user_id", "a:b")),
    ],
)
def test_references_are_kind_colon_value(ref: str, expected: Ident) -> None:
    assert ids.parse_ref(ref, region=REGION) == expected


@pytest.mark.parametrize("ref", ["LC-1", ":1", "shopify:", "shopify:0", "email:null"])
def test_bad_references_are_refused(ref: str) -> None:
    with pytest.raises(IdentifierError):
        ids.parse_ref(ref, region=REGION)


def test_priority_order_is_the_contracts() -> None:
    kinds = ["anonymous_id", "shopify", "phone", "email", "loyalty_card", "user_id"]
    assert sorted(kinds, key=ids.priority) == [
        "user_id",
        "loyalty_card",
        "email",
        "phone",
        "shopify",
        "anonymous_id",
    ]


# -- the fast path for plain e-mail addresses ----------------------------------------------------

_LOCAL_CHARS = 'aZ09_+-.!#~é"() '
_DOMAIN_CHARS = "aZ09-.é_"


def _slow_email(text: str) -> str | None:
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


@settings(max_examples=600, deadline=None)
@given(
    local=st.text(alphabet=_LOCAL_CHARS, min_size=0, max_size=70),
    labels=st.lists(st.text(alphabet=_DOMAIN_CHARS, min_size=0, max_size=66), max_size=4),
    tld=st.sampled_from(["it", "com", "COM", "c", "c0m", "local", "test", "localhost", "x-y", ""]),
)
def test_plain_addresses_normalise_as_email_validator_does(
    local: str, labels: list[str], tld: str
) -> None:
    text = f"{local}@{'.'.join([*labels, tld])}"
    fast = ids._plain_email(text)
    if fast is not None:
        assert fast == _slow_email(text)
    expected = _slow_email(text.strip())  # normalise_email trims first
    try:
        assert ids.normalise_email(text) == expected
    except IdentifierError:
        assert expected is None


@pytest.mark.parametrize(
    "text",
    [
        "giulia.rossi+shop@example.it",
        "A_B-C@Sub.Example-Shop.COM",
        f"{'a' * 64}@example.com",
        f"x@{'d' * 63}.com",
    ],
)
def test_common_addresses_take_the_fast_path(text: str) -> None:
    assert ids._plain_email(text) == _slow_email(text) == text.lower()


@pytest.mark.parametrize(
    "text",
    [f"{'a' * 65}@example.com", "a..b@example.com", "a@xn--80ak6aa92e.com", "a@ab--c.com"],
)
def test_unusual_addresses_are_left_to_email_validator(text: str) -> None:
    assert ids._plain_email(text) is None
