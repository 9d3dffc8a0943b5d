"""`phygital journeys rebuild [--from DAY] [--to DAY]`: recompute journeys from history."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from phygital.core.errors import Invalid

app = typer.Typer(help="Cross-channel journeys (ROPO, showrooming, click & collect).")


@app.command("rebuild")
def rebuild(
    start: Annotated[
        str | None,
        typer.Option("--from", help="Orders placed from this day (YYYY-MM-DD) or time."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="Orders placed before this day (YYYY-MM-DD) or time."),
    ] = None,
) -> None:
    """Recompute the journeys of every order placed in the period from the events and orders
    stored, with the current rules; the same result as the incremental detection. Commits every
    chunk of orders, so an interrupted rebuild can simply run again."""
    from phygital.cli import fail, open_database
    from phygital.config import get_settings
    from phygital.core.schemas import parse_moment
    from phygital.journeys import service

    settings = get_settings()
    try:
        since = parse_moment(start, field="--from", timezone=settings.timezone)
        until = parse_moment(end, field="--to", timezone=settings.timezone)
    except Invalid as exc:
        fail(str(exc))
    _, factory = open_database(settings)
    console = Console(stderr=True, highlight=False)
    progress = Progress(
        TextColumn("journeys"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed:,}/{task.total:,} orders"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    started = time.monotonic()
    with factory() as session:
        ids = service.order_ids_between(session, start=since, end=until)
        rules = service.get_rules(session)
    task = progress.add_task("rebuild", total=len(ids))
    journeys = 0
    with progress:
        for n in range(0, len(ids), service.CHUNK):
            chunk = ids[n : n + service.CHUNK]
            with factory() as session, session.begin():
                journeys += service.refresh_orders(session, chunk, rules=rules)
            progress.update(task, completed=n + len(chunk))
    elapsed = time.monotonic() - started
    console.print(f"{len(ids):,} orders, {journeys:,} journeys ({elapsed:.1f} s)", markup=False)
