"""The `phygital` command: serve, worker, demo, source, token, user, import.

Secrets are printed as one line on stdout and nothing else, so scripts can capture them; every
failure exits non-zero with a one-line reason on stderr.
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

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
from phygital.core.csvfile import CsvFile, ImportFileError
from phygital.core.errors import DomainError
from phygital.core.jobs import Worker
from phygital.db import make_engine, make_session_factory
from phygital.journeys import cli as journeys_cli

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
app.add_typer(journeys_cli.app, name="journeys")

log = logging.getLogger("phygital")
_CsvT = TypeVar("_CsvT", bound=CsvFile)


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
    # What was loaded to start (modules, templates, settings) lives as long as the process: move it
    # out of the collector's reach, so the full collections that large tracking batches trigger
    # do not walk it again and again (they were ~5 % of the ingestion time).
    gc.freeze()
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


ImportFile = Annotated[
    Path,
    typer.Argument(metavar="FILE.csv", help="A CSV file: UTF-8 (BOM or not), separated by , or ;."),
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="CODE",
        help="The store of every row (fills or overrides the file's store column).",
    ),
]
BatchSize = Annotated[
    int, typer.Option(help="Rows committed together.", min=1, max=100_000, hidden=True)
]


@dataclass
class _Run:
    """A finished import: its report and how long it took."""

    report: Any
    elapsed: float
    console: Console

    def rate(self, rows: int) -> str:
        return f"({self.elapsed:.1f} s, {rows / self.elapsed:,.0f} rows/s)"

    def say(self, line: str) -> None:
        self.console.print(line, markup=False)


def _with_progress(
    file: Path,
    csv_file: CsvFile,
    run: Callable[[Callable[[int, str], None], Callable[[int], None]], Any],
) -> _Run:
    """Run an import under a progress bar (rows/s) on stderr when it is a terminal; each bad
    row is printed as `line N: reason` above the bar. A file that turns out unreadable half-way
    fails with one line."""
    import time

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
    skip = csv_file.header_lines
    task = progress.add_task(file.name, total=csv_file.data_lines)

    def bad_row(line: int, reason: str) -> None:
        progress.console.print(f"line {line}: {reason}", markup=False)

    def advance(line: int) -> None:
        progress.update(task, completed=line - skip)

    started = time.monotonic()
    try:
        with progress:
            report = run(bad_row, advance)
    except ImportFileError as exc:
        fail(f"{exc}; the rows before it were imported")
    return _Run(report, max(time.monotonic() - started, 1e-6), console)


def _open_csv(opener: Callable[[], _CsvT]) -> _CsvT:
    try:
        return opener()
    except ImportFileError as exc:
        fail(str(exc))


def _check_store(factory: sessionmaker[Session], store: str | None) -> None:
    from phygital.commerce import service as commerce_service

    if store is None:
        return
    with factory() as session:
        if not commerce_service.stores_by_code(session, [store]):
            fail(f"--store: no store with code {store!r}")


@import_app.command("customers")
def import_customers(
    file: ImportFile,
    batch_size: BatchSize = 5000,  # importer.DEFAULT_BATCH_SIZE (imported lazily)
) -> None:
    """Import customers from a CSV file, through the same identity rules as every touchpoint.

    Columns: user_id, email, phone, first_name, last_name, loyalty_card, and consent columns
    consent_<purpose>_<channel> (e.g. consent_marketing_email: yes/no/true/false/1/0/sì, empty =
    not stated) with optional consent_at and consent_wording as proof. Every row needs a user_id,
    email, phone or loyalty_card. See docs/import.md.

    Known identifiers join their customer, so re-importing a file creates nothing new. Bad rows
    are reported on stderr as 'line N: reason' and skipped; good rows are kept (committed every
    5,000 rows). A header with an unknown column refuses the whole file.

    Exit status: 0 when every row was imported; 1 when some rows were bad (the good ones are
    imported) or the file was refused (nothing imported); 2 for a usage error.
    """
    import zoneinfo

    from phygital.identity import importer

    settings = get_settings()
    customers_csv = _open_csv(lambda: importer.CustomerCsv(file))
    _, factory = open_database(settings)
    done = _with_progress(
        file,
        customers_csv,
        lambda bad_row, advance: importer.run_import(
            factory,
            clock=SystemClock(),
            file=customers_csv,
            region=settings.default_region,
            tz=zoneinfo.ZoneInfo(settings.timezone),
            batch_size=batch_size,
            on_bad_row=bad_row,
            on_progress=advance,
        ),
    )
    report = done.report
    done.say(
        f"{file.name}: {_count(report.rows, 'row')} read: "
        f"{_count(report.created, 'new customer')}, "
        f"{report.joined:,} joined an existing customer, {report.bad:,} bad; "
        f"{_count(report.consents, 'consent statement')} recorded {done.rate(report.rows)}"
    )
    if report.bad:
        raise typer.Exit(1)


@import_app.command("products")
def import_products(
    file: ImportFile,
    batch_size: BatchSize = 1000,
) -> None:
    """Import the product catalogue from a CSV file: upsert by sku.

    Columns: sku, name, price (89.90 or 89,90) and optionally currency (default EUR), category,
    active (yes/no, default yes). A known sku is updated with the file's values (columns the file
    lacks keep theirs), so re-importing a file changes nothing. Order lines that arrived before
    their product are known from then on. See docs/import.md.

    Bad rows are reported on stderr as 'line N: reason' and skipped; good rows are kept.
    Exit status: 0 when every row was imported; 1 when some rows were bad or the file was
    refused; 2 for a usage error.
    """
    from phygital.commerce import imports

    settings = get_settings()
    products_csv = _open_csv(lambda: imports.ProductsCsv(file))
    _, factory = open_database(settings)
    done = _with_progress(
        file,
        products_csv,
        lambda bad_row, advance: imports.run_products_import(
            factory,
            clock=SystemClock(),
            file=products_csv,
            batch_size=batch_size,
            on_bad_row=bad_row,
            on_progress=advance,
        ),
    )
    report = done.report
    done.say(
        f"{file.name}: {_count(report.rows, 'row')} read: "
        f"{_count(report.created, 'new product')}, {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, {report.bad:,} bad {done.rate(report.rows)}"
    )
    if report.bad:
        raise typer.Exit(1)


@import_app.command("stock")
def import_stock(
    file: ImportFile,
    store: StoreOption = None,
    batch_size: BatchSize = 1000,
) -> None:
    """Import stock counts from a CSV file: the units on hand of each product in each store.

    Columns: store (not needed with --store), sku, quantity (a count, 0 or more). The count
    replaces the units on hand; units reserved by pickup orders are kept. An unknown store or
    sku is a bad row. See docs/import.md.

    Bad rows are reported on stderr as 'line N: reason' and skipped; good rows are kept.
    Exit status: 0 when every row was imported; 1 when some rows were bad or the file was
    refused; 2 for a usage error.
    """
    from phygital.commerce import imports

    settings = get_settings()
    stock_csv = _open_csv(lambda: imports.StockCsv(file, store=store))
    _, factory = open_database(settings)
    _check_store(factory, store)
    done = _with_progress(
        file,
        stock_csv,
        lambda bad_row, advance: imports.run_stock_import(
            factory,
            clock=SystemClock(),
            file=stock_csv,
            batch_size=batch_size,
            on_bad_row=bad_row,
            on_progress=advance,
        ),
    )
    report = done.report
    done.say(
        f"{file.name}: {_count(report.rows, 'row')} read: "
        f"{_count(report.created, 'new stock row')}, {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, {report.bad:,} bad {done.rate(report.rows)}"
    )
    if report.bad:
        raise typer.Exit(1)


@import_app.command("pos")
def import_pos(
    file: ImportFile,
    store: StoreOption = None,
    batch_size: BatchSize = 10_000,
) -> None:
    """Import till sales (a POS export) from a CSV file: one in-store order per receipt.

    Columns: receipt_id, sold_at (ISO time; without an offset in PHYGITAL_TIMEZONE), store (not
    needed with --store), sku, quantity (1 or more), unit_price (89.90 or 89,90), and the
    customer's customer_email, customer_phone, loyalty_card (all empty: an anonymous sale, still
    counted for the store). One row per receipt line. See docs/import.md.

    Customers are found or created through the identity rules; unknown skus are kept and
    flagged; sold units leave the store's stock. A receipt with a bad row is skipped whole and
    each of its rows is reported on stderr as 'line N: reason'. Receipts already imported are
    left alone, so re-running a file (after fixing its bad rows) imports only what is missing.

    Exit status: 0 when every row was imported; 1 when some rows were bad or the file was
    refused; 2 for a usage error.
    """
    import zoneinfo

    from phygital.commerce import imports

    settings = get_settings()
    pos_csv = _open_csv(lambda: imports.PosCsv(file, store=store))
    _, factory = open_database(settings)
    _check_store(factory, store)
    done = _with_progress(
        file,
        pos_csv,
        lambda bad_row, advance: imports.run_pos_import(
            factory,
            clock=SystemClock(),
            file=pos_csv,
            region=settings.default_region,
            tz=zoneinfo.ZoneInfo(settings.timezone),
            batch_size=batch_size,
            on_bad_row=bad_row,
            on_progress=advance,
        ),
    )
    report = done.report
    anonymous = report.created - report.customers
    done.say(
        f"{file.name}: {_count(report.rows, 'row')} read: "
        f"{_count(report.created, 'receipt')} imported ({report.customers:,} with a customer, "
        f"{anonymous:,} anonymous), {report.unchanged:,} already imported, "
        f"{_count(report.bad, 'bad row')} {done.rate(report.rows)}"
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
