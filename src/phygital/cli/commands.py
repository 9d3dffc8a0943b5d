"""The Typer app and its commands: serve, worker, demo, source, token and user (the import
commands are in `imports`, the journeys commands in `phygital.journeys.cli`)."""

from __future__ import annotations

import gc
import logging
import signal
import sys
import threading
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

import typer

from phygital import __version__
from phygital.auth import service as auth_service
from phygital.auth.models import Role
from phygital.cli.common import fail, open_database, unit_of_work
from phygital.cli.imports import import_app
from phygital.config import get_settings
from phygital.core.clock import SystemClock
from phygital.core.collector import tune_for_bulk
from phygital.core.jobs import Worker
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
app.add_typer(source_app, name="source")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")
app.add_typer(import_app, name="import")
app.add_typer(journeys_cli.app, name="journeys")

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
    # do not walk it again and again (they were ~5 % of the ingestion time); and make those
    # collections rare (a batch of 500 messages is a bulk job; see core.collector).
    gc.freeze()
    tune_for_bulk()
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
