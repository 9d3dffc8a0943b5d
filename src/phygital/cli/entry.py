"""The entry point of the `phygital` console script: runs the Typer app and turns every failure
into one line on stderr, with the exit status that says what kind of failure it was."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from phygital.cli.commands import app
from phygital.cli.common import CliError
from phygital.config import ConfigError
from phygital.core.errors import DomainError


def _one_line(message: str) -> str:
    return " ".join(message.split())


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the Typer app and turns every failure into one line on stderr."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="phygital", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _die("aborted", 130)
    except typer.TyperException as exc:  # usage errors: bad option value, missing argument, …
        if type(exc).__name__ == "NoArgsIsHelpError":
            ctx = getattr(exc, "ctx", None)
            sys.stderr.write((ctx.get_help() if ctx else "") + "\n")
            sys.exit(2)
        ctx = getattr(exc, "ctx", None)
        where = f"{ctx.command_path}: " if ctx is not None else ""
        _die(f"{where}{exc.format_message()}", getattr(exc, "exit_code", 2) or 2)
    except (CliError, ConfigError) as exc:
        _die(str(exc), 1)
    except DomainError as exc:
        field = f"{exc.field}: " if exc.field else ""
        _die(f"{field}{exc.message}", 1)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        _die(f"database error: {reason}", 1)
    except SQLAlchemyError as exc:
        _die(f"database error: {str(exc).splitlines()[0]}", 1)
    if isinstance(code, int) and code:  # `raise typer.Exit(n)` inside a command
        sys.exit(code)


def _die(message: str, code: int) -> NoReturn:
    message = message.replace("Value error, ", "")
    sys.stderr.write(f"phygital: error: {_one_line(message)}\n")
    sys.exit(code)
