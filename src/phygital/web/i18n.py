"""Italian and English for the web app, from Babel message catalogs.

The `.po` catalogs in `phygital/locale/` are compiled in memory at start-up, so there is no
compiled `.mo` file to forget. The language of a request is, in order: the user's setting, the
`lang` cookie (the header's switch when logged out), the browser's `Accept-Language`, Italian.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALES = ("it", "en")
DEFAULT_LOCALE = "it"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

_current: ContextVar[str] = ContextVar("phygital_locale", default=DEFAULT_LOCALE)


def catalog_files(locale: str) -> list[Path]:
    """A locale's catalogs: `messages.po` and one per domain (`commerce.po`, …), all merged."""
    return sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"))


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> NullTranslations:
    merged: NullTranslations | None = None
    for po_path in catalog_files(locale):
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        part = Translations(buf)
        if merged is None:
            merged = part
        else:
            assert isinstance(merged, Translations)
            merged.merge(part)
    return merged or NullTranslations()


def set_locale(locale: str) -> None:
    _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def get_locale() -> str:
    return _current.get()


def gettext(message: str, **variables: object) -> str:
    text = translations(get_locale()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = translations(get_locale()).ngettext(singular, plural, n)
    variables.setdefault("num", n)
    return text % variables


_ = gettext


def negotiate(accept_language: str | None) -> str | None:
    """The best of our locales for an `Accept-Language` header, or None."""
    if not accept_language:
        return None
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()
        quality = 1.0
        for param in pieces[1:]:
            name, _sep, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, index, tag))
    for _q, _i, tag in sorted(weighted):
        primary = tag.split("-")[0]
        if primary in LOCALES:
            return primary
    return None


def choose_locale(
    *, user_locale: str | None, cookie: str | None, accept_language: str | None
) -> str:
    for candidate in (user_locale, cookie, negotiate(accept_language)):
        if candidate in LOCALES:
            return candidate
    return DEFAULT_LOCALE


def fmt_datetime(value: datetime | None, tz: str, fmt: str = "medium") -> str:
    if value is None:
        return ""
    return format_datetime(value.astimezone(ZoneInfo(tz)), format=fmt, locale=get_locale())


def fmt_date(value: datetime | None, tz: str, fmt: str = "full") -> str:
    if value is None:
        return ""
    return format_date(value.astimezone(ZoneInfo(tz)).date(), format=fmt, locale=get_locale())


def fmt_number(value: float | int | None) -> str:
    if value is None:
        return "—"
    return format_decimal(value, locale=get_locale())


def language_name(locale: str) -> str:
    return Locale.parse(locale).get_display_name(locale) or locale


def role_label(role: str) -> str:
    labels = {"admin": gettext("Admin"), "manager": gettext("Manager"), "seller": gettext("Seller")}
    return labels.get(str(role), str(role))
