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
    period of ~2,000 orders (two on SQLite, found by two processes), so an interrupted rebuild
    can simply run again; a first rebuild (no journey stored yet) is one transaction instead,
    so it too leaves all or nothing."""
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
        rules = service.get_rules(session)
        # On SQLite, a second process finds half the journeys (journeys/helper.py).
        finder = service.start_helper(session, rules)
    task = progress.add_task("rebuild", total=0)

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    try:
        with progress:
            # A first rebuild (no journey stored) is one transaction: see `service.fill_empty`.
            with factory() as session, session.begin():
                report = service.fill_empty(
                    session,
                    start=since,
                    end=until,
                    rules=rules,
                    on_progress=advance,
                    finder=finder,
                )
            if report is None:
                report = service.RebuildReport()
                with factory() as session:
                    slices = service.periods(session, start=since, end=until)
                total = sum(part.orders for part in slices)
                step = 1 if finder is None else 2  # a pair: one period each, one commit
                for first in range(0, len(slices), step):
                    parts = slices[first : first + step]
                    with factory() as session, session.begin():
                        report.journeys += service.refresh_periods(
                            session, parts, rules=rules, finder=finder
                        )
                    report.orders += sum(part.orders for part in parts)
                    advance(report.orders, total)
    finally:
        if finder is not None:
            finder.stop()
    elapsed = time.monotonic() - started
    console.print(
        f"{report.orders:,} orders, {report.journeys:,} journeys ({elapsed:.1f} s)", markup=False
    )
