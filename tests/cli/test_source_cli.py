"""`phygital source create`: the write key alone on stdout, one-line errors."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from phygital.tracking.models import Source
from tests.cli.conftest import one_error_line as _one_error_line


def test_source_create_prints_only_the_write_key(cli, db: Session) -> None:  # type: ignore[no-untyped-def]
    result = cli("source", "create", "Sito web", "--channel", "web")
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.count("\n") == 1
    key = result.stdout.strip()
    source = db.scalar(select(Source).where(Source.write_key == key))
    assert source is not None
    assert source.name == "Sito web" and source.channel == "web"
    assert source.disabled_at is None and source.events_count == 0


def test_every_source_channel_is_accepted(cli, db: Session) -> None:  # type: ignore[no-untyped-def]
    for channel in ("web", "app", "store", "agent"):
        assert cli("source", "create", f"src {channel}", "--channel", channel).code == 0
    channels = {s.name: s.channel for s in db.scalars(select(Source))}
    assert channels == {f"src {c}": c for c in ("web", "app", "store", "agent")}


def test_each_source_gets_its_own_key(cli) -> None:  # type: ignore[no-untyped-def]
    first = cli("source", "create", "Cassa MI", "--channel", "store").stdout.strip()
    second = cli("source", "create", "Cassa TO", "--channel", "store").stdout.strip()
    assert first != second and first.startswith("wk_") and second.startswith("wk_")


def test_a_channel_that_is_not_a_source_channel_is_refused(cli, db: Session) -> None:  # type: ignore[no-untyped-def]
    for bad in ("email", "whatsapp", "shop"):
        result = cli("source", "create", "x", "--channel", bad)
        line = _one_error_line(result)
        assert result.code == 2
        assert "--channel" in line and bad in line
        assert result.stdout == ""
    assert db.scalar(select(Source)) is None


def test_a_duplicate_name_is_refused_and_the_first_key_kept(cli, db: Session) -> None:  # type: ignore[no-untyped-def]
    key = cli("source", "create", "Sito web", "--channel", "web").stdout.strip()
    result = cli("source", "create", "Sito web", "--channel", "app")
    line = _one_error_line(result)
    assert result.code == 1
    assert "already exists" in line and "Sito web" in line
    assert result.stdout == ""
    assert [s.write_key for s in db.scalars(select(Source))] == [key]


def test_a_blank_name_is_refused(cli) -> None:  # type: ignore[no-untyped-def]
    line = _one_error_line(cli("source", "create", "  ", "--channel", "web"))
    assert "name" in line


def test_missing_channel_is_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    line = _one_error_line(cli("source", "create", "Sito web"))
    assert "--channel" in line


def test_source_commands_have_help(cli) -> None:  # type: ignore[no-untyped-def]
    for args in (("source",), ("source", "create")):
        result = cli(*args, "--help")
        assert result.code == 0 and "Usage: phygital source" in result.stdout
