"""What the commerce imports share: the report, bad rows in line order, sku and store codes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from phygital.core.csvfile import ImportFileError
from phygital.identity import identifiers as ids

PRODUCT_COLUMNS = ("sku", "name", "price", "currency", "category", "active")
STOCK_COLUMNS = ("store", "sku", "quantity")
POS_IDENTIFIER_COLUMNS = {
    "customer_email": ids.EMAIL,
    "customer_phone": ids.PHONE,
    "loyalty_card": ids.LOYALTY_CARD,
}
POS_COLUMNS = (
    "receipt_id",
    "sold_at",
    "store",
    "sku",
    "quantity",
    "unit_price",
    *POS_IDENTIFIER_COLUMNS,
)

DEFAULT_BATCH_SIZE = 1000
# Till rows are small and a receipt is written in bulk: larger batches amortise the statements.
DEFAULT_POS_BATCH_SIZE = 25_000
MAX_QUANTITY = 100_000
MAX_STOCK = 10_000_000
SKU_PATTERN = re.compile(r"^[^\s/]{1,100}$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
STORE_CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
DOC = "docs/import.md"

BadRow = Callable[[int, str], Any]
Progress = Callable[[int], Any]


def ignore_bad_row(line: int, reason: str) -> None:
    return None


def ignore_progress(line: int) -> None:
    return None


@dataclass
class ImportReport:
    """What an import did. `rows`: rows read (blank ones aside); `bad`: rows not imported, each
    reported with its line; `created`, `updated`, `unchanged`: products or stock rows (for the
    POS import: receipts new, -, already imported); `customers`: receipts with a customer."""

    rows: int = 0
    bad: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    customers: int = 0


class Errors:
    """Bad rows of the current batch, reported in line order when the batch is written."""

    def __init__(self, report: ImportReport, on_bad_row: BadRow) -> None:
        self.report = report
        self.on_bad_row = on_bad_row
        self.pending: list[tuple[int, str]] = []

    def add(self, line: int, reason: str) -> None:
        self.pending.append((line, reason))

    def flush(self) -> None:
        self.report.bad += len(self.pending)
        for line, reason in sorted(self.pending):
            self.on_bad_row(line, reason)
        self.pending.clear()


def cell(values: list[str], index: int | None) -> str:
    if index is None or index >= len(values):
        return ""
    return values[index].strip()


def check_sku(raw: str, problems: list[str], column: str = "sku") -> str:
    if not raw:
        problems.append(f"{column}: missing")
    elif not SKU_PATTERN.match(raw):
        problems.append(
            f"{column}: {raw!r} is not an sku (no spaces or '/', at most 100 characters)"
        )
    return raw


def check_store_code(raw: str, problems: list[str]) -> str:
    if not raw:
        problems.append("store: missing (give a store column or --store CODE)")
    elif not STORE_CODE_PATTERN.match(raw):
        problems.append(f"store: {raw!r} is not a store code")
    return raw


def check_store_option(store: str | None) -> None:
    if store is not None and not STORE_CODE_PATTERN.match(store):
        raise ImportFileError(f"--store: {store!r} is not a store code")


def add_up(report: ImportReport, done: ImportReport) -> None:
    report.created += done.created
    report.updated += done.updated
    report.unchanged += done.unchanged
    report.customers += done.customers
