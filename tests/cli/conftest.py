"""Running the `phygital` command in-process against the test database."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from phygital.cli import main
from phygital.config import get_settings


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


Cli = Callable[..., Result]


@pytest.fixture
def cli(
    db_url: str,
    engine,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Cli]:
    """Run the CLI in-process against the test database."""
    monkeypatch.setenv("PHYGITAL_DATABASE_URL", db_url)

    def run(*args: str, stdin: str = "") -> Result:
        get_settings.cache_clear()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    yield run
    get_settings.cache_clear()


def one_error_line(result: Result) -> str:
    """The failure's single stderr line (and check that it is single and prefixed)."""
    assert result.code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("phygital: error: ")
    return lines[0]
