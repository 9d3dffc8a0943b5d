"""`phygital import customers|products|stock|pos`: bulk imports from CSV files. Each command
says which file format and which domain importer; `_run_import` is their one shape (open the
file, migrate, run under a progress bar, print one summary line, exit 1 on bad rows)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

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
from sqlalchemy.orm import Session, sessionmaker

from phygital.cli.common import fail, open_database
from phygital.config import Settings, get_settings
from phygital.core.clock import SystemClock
from phygital.core.csvfile import CsvFile, ImportFileError

import_app = typer.Typer(
    help="Bulk imports from CSV files (formats in docs/import.md).", no_args_is_help=True
)

_CsvT = TypeVar("_CsvT", bound=CsvFile)


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
    int, typer.Option(help="Rows committed together (one transaction).", min=1, max=100_000)
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
    if store is None:
        return
    from phygital.commerce import service as commerce_service

    with factory() as session:
        if not commerce_service.stores_by_code(session, [store]):
            fail(f"--store: no store with code {store!r}")


def _run_import(
    file: Path,
    *,
    open_csv: Callable[[], _CsvT],
    run: Callable[..., Any],
    summary: Callable[[Any], str],
    batch_size: int,
    store: str | None = None,
    local: bool = False,
) -> None:
    """The shape of every import: open the file (refused: one line, nothing imported), open and
    migrate the database, check `--store`, then `run(factory, clock=, file=, batch_size=,
    on_bad_row=, on_progress=)` (the domain's importer; with `local`, also `region=` and `tz=`
    from the settings) under the progress bar. Prints `FILE: N rows read: <summary> (rate)` and
    exits 1 when some rows were bad."""
    settings = get_settings()
    csv_file = _open_csv(open_csv)
    _, factory = open_database(settings)
    _check_store(factory, store)
    done = _with_progress(
        file,
        csv_file,
        lambda bad_row, advance: run(
            factory,
            clock=SystemClock(),
            file=csv_file,
            **(_local(settings) if local else {}),
            batch_size=batch_size,
            on_bad_row=bad_row,
            on_progress=advance,
        ),
    )
    report = done.report
    done.say(
        f"{file.name}: {_count(report.rows, 'row')} read: {summary(report)} "
        f"{done.rate(report.rows)}"
    )
    if report.bad:
        raise typer.Exit(1)


def _local(settings: Settings) -> dict[str, Any]:
    """The default region (phone numbers without a prefix) and time zone (times without an
    offset), for the importers that read phone numbers or times."""
    import zoneinfo

    return {"region": settings.default_region, "tz": zoneinfo.ZoneInfo(settings.timezone)}


def _upserted(noun: str) -> Callable[[Any], str]:
    """The summary of an upsert by key (products, stock): created, updated, unchanged, bad."""
    return lambda report: (
        f"{_count(report.created, noun)}, {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, {report.bad:,} bad"
    )


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
    from phygital.identity import importer

    _run_import(
        file,
        open_csv=lambda: importer.CustomerCsv(file),
        run=importer.run_import,
        local=True,
        batch_size=batch_size,
        summary=lambda report: (
            f"{_count(report.created, 'new customer')}, "
            f"{report.joined:,} joined an existing customer, {report.bad:,} bad; "
            f"{_count(report.consents, 'consent statement')} recorded"
        ),
    )


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

    _run_import(
        file,
        open_csv=lambda: imports.ProductsCsv(file),
        run=imports.run_products_import,
        batch_size=batch_size,
        summary=_upserted("new product"),
    )


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

    _run_import(
        file,
        open_csv=lambda: imports.StockCsv(file, store=store),
        run=imports.run_stock_import,
        store=store,
        batch_size=batch_size,
        summary=_upserted("new stock row"),
    )


@import_app.command("pos")
def import_pos(
    file: ImportFile,
    store: StoreOption = None,
    batch_size: BatchSize = 25_000,
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
    from phygital.commerce import imports

    _run_import(
        file,
        open_csv=lambda: imports.PosCsv(file, store=store),
        run=imports.run_pos_import,
        local=True,
        store=store,
        batch_size=batch_size,
        summary=lambda report: (
            f"{_count(report.created, 'receipt')} imported ({report.customers:,} with a customer, "
            f"{report.created - report.customers:,} anonymous), "
            f"{report.unchanged:,} already imported, {_count(report.bad, 'bad row')}"
        ),
    )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


class _RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "")
