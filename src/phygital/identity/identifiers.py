"""Identifiers: what they are, how they are normalised, which values are never identifiers.

Pure functions, no database: the resolution engine and every entry point (tracking, orders,
imports, webhooks) use the same rules.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

USER_ID = "user_id"
ANONYMOUS_ID = "anonymous_id"
EMAIL = "email"
PHONE = "phone"
LOYALTY_CARD = "loyalty_card"

BUILTIN_KINDS = (USER_ID, ANONYMOUS_ID, EMAIL, PHONE, LOYALTY_CARD)
# Strong kinds name one person; a device (anonymous_id) is weak evidence.
STRONG_KINDS = frozenset({USER_ID, EMAIL, PHONE, LOYALTY_CARD})

_EXTERNAL_KIND = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")

# Values that systems send when they have nothing: never identifiers.
PLACEHOLDERS = frozenset(
    {
        "",
        "null",
        "none",
        "nil",
        "undefined",
        "nan",
        "anonymous",
        "anon",
        "guest",
        "unknown",
        "n/a",
        "na",
        "test",
        "user",
        "customer",
        "default",
        "[object object]",
        "false",
        "true",
        "0",
        "-1",
        "none@none.com",
        "noemail@noemail.com",
        "no@email.com",
        "test@test.com",
        "email@email.com",
        "example@example.com",
        "user@example.com",
    }
)
# All zeros, dashes, dots, stars…: masked or empty fields. Repeated digits like "11" are real ids.
_FILLER = re.compile(r"^[0\-_.\s*#]+$")


class IdentifierError(ValueError):
    """A value that cannot be an identifier of its kind (with the reason)."""


class Ident(tuple[str, str, str]):
    """A normalised identifier: `kind` is a built-in kind or an external namespace; `key` is
    `kind:value`, as stored. A tuple (compared, ordered and hashed as (kind, value)) rather than a
    dataclass: resolution builds, hashes and compares millions of them, and imports send them
    between processes; the key is made once, not on every lookup."""

    __slots__ = ()

    def __new__(cls, kind: str, value: str) -> Ident:
        return tuple.__new__(cls, (kind, value, f"{kind}:{value}"))

    def __getnewargs__(self) -> tuple[str, str]:
        return (self[0], self[1])

    def __repr__(self) -> str:
        return f"Ident(kind={self[0]!r}, value={self[1]!r})"

    @property
    def kind(self) -> str:
        return self[0]

    @property
    def value(self) -> str:
        return self[1]

    @property
    def key(self) -> str:
        return self[2]

    @property
    def strong(self) -> bool:
        return self[0] != ANONYMOUS_ID

    def as_dict(self) -> dict[str, str]:
        return {"kind": self[0], "value": self[1]}


def priority(kind: str) -> int:
    """Lower is more important: user_id, loyalty_card, email, phone, external ids, anonymous_id."""
    return {USER_ID: 0, LOYALTY_CARD: 1, EMAIL: 2, PHONE: 3, ANONYMOUS_ID: 5}.get(kind, 4)


def is_placeholder(value: str) -> bool:
    v = value.strip().lower()
    return v in PLACEHOLDERS or bool(_FILLER.match(v))


def normalise_kind(kind: str) -> str:
    k = kind.strip().lower()
    if k in BUILTIN_KINDS or _EXTERNAL_KIND.match(k):
        return k
    raise IdentifierError(f"unknown identifier kind {kind!r}")


# Plain ASCII addresses (most of them): dot-atom local part of letters, digits, `_`, `+`, `-`;
# a domain of at least two labels, no `--` (so no Punycode or reserved labels), a TLD of letters.
# email_validator would accept each of these unchanged but for case, so they skip its ~80 µs of
# Unicode checks (an import meets each address once: the cache does not help there). Anything
# else, and special-use domains, go through email_validator (a property test holds the two equal).
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.)+[A-Za-z]{2,63}"
)
_SPECIAL_USE_DOMAINS = frozenset(SPECIAL_USE_DOMAIN_NAMES)


def _plain_email(text: str) -> str | None:
    if len(text) > 254 or not _PLAIN_EMAIL.fullmatch(text):
        return None
    local, _, domain = text.partition("@")
    labels = domain.lower().split(".")
    if len(local) > 64 or any(len(label) > 63 for label in labels):
        return None
    if labels[-1] in _SPECIAL_USE_DOMAINS:  # all of them are single labels: local, test…
        return None
    return text.lower()


def normalise_email(value: str) -> str:
    text = value.strip()
    plain = _plain_email(text)
    if plain is not None:
        return plain
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise IdentifierError(f"not an e-mail address: {exc}") from None


def normalise_phone(value: str, region: str) -> str:
    try:
        number = phonenumbers.parse(value.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise IdentifierError(f"not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(number):
        raise IdentifierError("not a possible phone number")
    # "+39 000 0000000" is a masked field with a country code in front: all zeros all the same.
    if not number.national_number:
        raise IdentifierError(f"placeholder value {value.strip()!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise(kind: str, value: object, *, region: str) -> Ident:
    """Normalise one identifier or raise `IdentifierError` (placeholders included)."""
    if value is None or isinstance(value, bool | dict | list):
        raise IdentifierError("no value")
    text = str(value).strip()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    return _normalise_text(kind, text, region)


# The same e-mails, phones and devices come back in every batch, and parsing a phone number or
# validating an e-mail costs tens of microseconds: remember the answers (errors are not cached).
@lru_cache(maxsize=100_000)
def _normalise_text(kind: str, text: str, region: str) -> Ident:
    if is_placeholder(text):
        raise IdentifierError(f"placeholder value {text!r}")
    if len(text) > 255:
        raise IdentifierError("longer than 255 characters")
    k = normalise_kind(kind)
    if k == EMAIL:
        text = normalise_email(text)
        if is_placeholder(text):
            raise IdentifierError(f"placeholder value {text!r}")
    elif k == PHONE:
        text = normalise_phone(text, region)
    elif k == LOYALTY_CARD:
        text = text.upper().replace(" ", "")
    return Ident(k, text)


def parse_ref(ref: str, *, region: str) -> Ident:
    """`kind:value` as written in queries (`loyalty_card:LC-1`, `shopify:12345`)."""
    kind, sep, value = ref.partition(":")
    if not sep or not kind or not value:
        raise IdentifierError("expected kind:value")
    return normalise(kind, value, region=region)


def collect(
    pairs: list[tuple[str, object]], *, region: str, lenient: bool = True
) -> tuple[list[Ident], list[str]]:
    """Normalise many (kind, value) pairs; returns identifiers (deduplicated, by priority) and
    the reasons for the values set aside. With `lenient`, bad values are skipped, not fatal."""
    found: dict[str, Ident] = {}
    problems: list[str] = []
    for kind, value in pairs:
        if value is None:
            continue
        try:
            ident = normalise(kind, value, region=region)
        except IdentifierError as exc:
            if not lenient:
                raise
            problems.append(f"{kind}: {exc}")
            continue
        found.setdefault(ident.key, ident)
    ordered = sorted(found.values(), key=lambda i: (priority(i.kind), i.kind, i.value))
    return ordered, problems
