"""The `phygital` command: serve, worker, demo, source, token, user, import.

Secrets are printed as one line on stdout and nothing else, so scripts can capture them; every
failure exits non-zero with a one-line reason on stderr.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from phygital import __version__, migrate
from phygital.auth import service as auth_service
from phygital.auth.models import Role
from phygital.config import ConfigError, Settings, get_settings
from phygital.core.clock import SystemClock
from phygital.core.errors import DomainError
from phygital.core.jobs import Worker
from phygital.db import make_engine, make_session_factory

app = typer.Typer(
    name="phygital",
    help="Phygital: one view of each customer across stores, web shop, WhatsApp and sellers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
source_app = typer.Typer(help="Tracking sources (web site, app, till).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for programs.", no_args_is_help=True)
user_app = typer.Typer(help="Logins for the web app.", no_args_is_help=True)
import_app = typer.Typer(
    help="Bulk imports from CSV files (formats in docs/import.md).", no_args_is_help=True
)
app.add_typer(source_app, name="source")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")
app.add_typer(import_app, name="import")

log = logging.getLogger("phygital")


class RoleChoice(StrEnum):
    admin = "admin"
    manager = "manager"
    seller = "seller"


class SourceChannel(StrEnum):
    web = "web"
    app = "app"
    store = "store"
    agent = "agent"


class CliError(Exception):
    """A failure to report as one line on stderr."""


def fail(message: str) -> NoReturn:
    raise CliError(message)


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def open_database(settings: Settings) -> tuple[Engine, sessionmaker[Session]]:
    """Connect, migrate to the current schema, and return the engine and a session factory."""
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        fail(f"cannot reach the database {_safe_url(settings.database_url)}: {reason}")
    if not migrate.is_current(engine):
        migrate.upgrade(engine)
    return engine, make_session_factory(engine, SystemClock())


@contextmanager
def unit_of_work(settings: Settings) -> Iterator[Session]:
    _, factory = open_database(settings)
    with factory() as session, session.begin():
        yield session


def _setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Phygital's command line."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    worker: Annotated[
        bool | None,
        typer.Option(
            "--worker/--no-worker",
            help="Run the background worker in this process (default: on SQLite only).",
        ),
    ] = None,
) -> None:
    """Create or migrate the database and serve the API, webhooks, tracking and web app."""
    import uvicorn

    from phygital.main import create_app

    settings = get_settings()
    engine, _ = open_database(settings)
    run_worker = settings.is_sqlite if worker is None else worker
    application = create_app(settings, engine=engine, run_worker=run_worker)
    _setup_logging()
    log.info(
        "Phygital %s on http://%s:%d (worker in process: %s)",
        __version__,
        host,
        port,
        "yes" if run_worker else "no",
    )
    uvicorn.run(application, host=host, port=port, log_level="info", proxy_headers=True)


@app.command("worker")
def worker_command(
    once: Annotated[bool, typer.Option(help="Run the jobs due now, then exit.")] = False,
) -> None:
    """Run the background worker (for PostgreSQL deployments with several processes)."""
    from phygital.main import load_hooks

    settings = get_settings()
    _, factory = open_database(settings)
    load_hooks()
    _setup_logging()
    worker = Worker(
        factory,
        clock=SystemClock(),
        lease=timedelta(seconds=settings.job_lease_seconds),
        settings=settings,
    )
    if once:
        worker.run_until_idle()
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker.run_forever(stop, settings.worker_poll_seconds)


@app.command()
def demo(
    customers: Annotated[
        int, typer.Option(help="How many demo customers to create.", min=0, max=1_000_000)
    ] = 300,
    password: Annotated[
        str | None,
        typer.Option(help="Password for the demo users (default: a random one, printed)."),
    ] = None,
) -> None:
    """Fill an empty database with a realistic demo company (stores, customers, 90 days of web,
    app and store activity) and print how to log in."""
    from phygital.demo import build_demo

    settings = get_settings()
    with unit_of_work(settings) as session:
        summary = build_demo(
            session, customers=customers, password=password, region=settings.default_region
        )
    typer.echo(summary)


@source_app.command("create")
def source_create(
    name: Annotated[str, typer.Argument(help="What the source is, e.g. 'Sito web'.")],
    channel: Annotated[SourceChannel, typer.Option(help="web, app, store or agent.")],
) -> None:
    """Create a tracking source and print its write key (one line, nothing else)."""
    from phygital.tracking import service as tracking_service
    from phygital.tracking.models import Channel

    with unit_of_work(get_settings()) as session:
        source = tracking_service.create_source(session, name=name, channel=Channel(channel.value))
        write_key = source.write_key
    typer.echo(write_key)


@import_app.command("customers")
def import_customers(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE.csv", help="A CSV file: UTF-8 (BOM or not), separated by , or ;."
        ),
    ],
    batch_size: Annotated[
        int, typer.Option(help="Rows committed together.", min=1, max=100_000, hidden=True)
    ] = 1000,
) -> None:
    """Import customers from a CSV file, through the same identity rules as every touchpoint.

    Columns: user_id, email, phone, first_name, last_name, loyalty_card, and consent columns
    consent_<purpose>_<channel> (e.g. consent_marketing_email: yes/no/true/false/1/0/sì, empty =
    not stated) with optional consent_at and consent_wording as proof. Every row needs a user_id,
    email, phone or loyalty_card. See docs/import.md.

    Known identifiers join their customer, so re-importing a file creates nothing new. Bad rows
    are reported on stderr as 'line N: reason' and skipped; good rows are kept (committed every
    1,000 rows). A header with an unknown column refuses the whole file.

    Exit status: 0 when every row was imported; 1 when some rows were bad (the good ones are
    imported) or the file was refused (nothing imported); 2 for a usage error.
    """
    import time
    import zoneinfo

    from phygital.identity import importer

    settings = get_settings()
    try:
        customers_csv = importer.CustomerCsv(file)
    except importer.ImportFileError as exc:
        fail(str(exc))
    _, factory = open_database(settings)
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TaskProgressColumn(),
        _RowsPerSecond(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    skip = customers_csv.header_lines
    task = progress.add_task(file.name, total=max(customers_csv.total_lines - skip, 1))

    def bad_row(line: int, reason: str) -> None:
        progress.console.print(f"line {line}: {reason}", markup=False)

    def advance(line: int) -> None:
        progress.update(task, completed=line - skip)

    started = time.monotonic()
    try:
        with progress:
            report = importer.run_import(
                factory,
                clock=SystemClock(),
                file=customers_csv,
                region=settings.default_region,
                tz=zoneinfo.ZoneInfo(settings.timezone),
                batch_size=batch_size,
                on_bad_row=bad_row,
                on_progress=advance,
            )
    except importer.ImportFileError as exc:
        fail(f"{exc}; the rows before it were imported")
    elapsed = max(time.monotonic() - started, 1e-6)
    console.print(
        f"{file.name}: {_count(report.rows, 'row')} read: "
        f"{_count(report.created, 'new customer')}, "
        f"{report.joined:,} joined an existing customer, {report.bad:,} bad; "
        f"{_count(report.consents, 'consent statement')} recorded "
        f"({elapsed:.1f} s, {report.rows / elapsed:,.0f} rows/s)",
        markup=False,
    )
    if report.bad:
        raise typer.Exit(1)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


class _RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. 'shop-sync'.")],
    role: Annotated[RoleChoice, typer.Option(help="admin, manager or seller.")],
    store: Annotated[
        str | None, typer.Option(help="Limit the token to one store (its code).")
    ] = None,
) -> None:
    """Create an API token and print it (one line; it is not shown again)."""
    with unit_of_work(get_settings()) as session:
        _, secret = auth_service.create_token(
            session, name=name, role=Role(role.value), store_code=store
        )
    typer.echo(secret)


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Argument(help="The login e-mail.")],
    role: Annotated[RoleChoice, typer.Option(help="admin, manager or seller.")],
    store: Annotated[str | None, typer.Option(help="The user's store (its code).")] = None,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    locale: Annotated[
        str | None, typer.Option(help="it or en (default: from the browser).")
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from standard input; otherwise one is generated and printed.",
        ),
    ] = False,
) -> None:
    """Create a login for the web app."""
    import secrets

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("--password-stdin: no password on standard input")
    else:
        password = secrets.token_urlsafe(12)
    with unit_of_work(get_settings()) as session:
        auth_service.create_user(
            session,
            email=email,
            role=Role(role.value),
            name=name,
            password=password,
            store_code=store,
            locale=locale,
        )
    if not password_stdin:
        typer.echo(password)


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
