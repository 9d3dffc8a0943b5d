"""Every message of the web app has an Italian translation, and the catalog parses."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from phygital.web import i18n

ROOT = Path(__file__).resolve().parents[2]


def test_every_message_is_translated_to_italian() -> None:
    jinja_options = {
        "extensions": "jinja2.ext.i18n",
        "trim_blocks": "True",
        "lstrip_blocks": "True",
    }
    found = extract_from_dir(
        str(ROOT / "src/phygital"),
        method_map=[("**.py", "python"), ("templates/**.html", "jinja2")],
        options_map={"templates/**.html": jinja_options},
    )
    wanted = {message[2] for message in found}
    italian: dict[object, object] = {}
    for po in i18n.catalog_files("it"):
        with po.open("rb") as fh:
            italian.update({m.id: m.string for m in read_po(fh, locale="it") if m.id})
    missing = sorted(str(m) for m in wanted if not italian.get(m))
    assert not missing, f"untranslated in it/LC_MESSAGES/*.po: {missing}"


def test_accept_language_negotiation() -> None:
    assert i18n.negotiate("en-US,en;q=0.9") == "en"
    assert i18n.negotiate("fr-FR, en;q=0.5, it;q=0.8") == "it"
    assert i18n.negotiate("en;q=0, it;q=0.1") == "it"
    assert i18n.negotiate("de, fr") is None
    assert i18n.negotiate("") is None
    assert i18n.negotiate("garbage;;q=x, EN") == "en"


def test_locale_precedence_user_then_cookie_then_browser_then_italian() -> None:
    assert i18n.choose_locale(user_locale="en", cookie="it", accept_language="it") == "en"
    assert i18n.choose_locale(user_locale=None, cookie="en", accept_language="it") == "en"
    assert i18n.choose_locale(user_locale=None, cookie=None, accept_language="en") == "en"
    assert i18n.choose_locale(user_locale=None, cookie="xx", accept_language=None) == "it"
