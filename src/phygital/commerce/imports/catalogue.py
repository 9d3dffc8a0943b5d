"""Catalogue and stock counts from CSV (`phygital import products|stock`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from phygital.commerce import service
from phygital.commerce.imports.common import (
    CURRENCY_PATTERN,
    DEFAULT_BATCH_SIZE,
    DOC,
    MAX_STOCK,
    PRODUCT_COLUMNS,
    STOCK_COLUMNS,
    BadRow,
    Errors,
    ImportReport,
    Progress,
    add_up,
    check_sku,
    check_store_code,
    check_store_option,
    ignore_bad_row,
    ignore_progress,
)
from phygital.commerce.models import Product, Stock, Store
from phygital.core.clock import Clock
from phygital.core.csvfile import (
    CsvFile,
    RowError,
    check_columns,
    extra_values,
    is_blank,
    parse_bool,
    parse_decimal,
    parse_int,
)
from phygital.db import new_id

# -- products -----------------------------------------------------------------------------------


class ProductsCsv(CsvFile):
    """A catalogue file: sku, name, price, and optionally currency, category, active."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        check_columns(
            self.columns, known=PRODUCT_COLUMNS, required=("sku", "name", "price"), doc=DOC
        )


@dataclass(frozen=True)
class ProductRow:
    line: int
    sku: str
    values: dict[str, Any]  # the columns the file has: name, price, currency, category, active


def parse_product(columns: list[str], cells: list[str], *, line: int) -> ProductRow | None:
    """One catalogue row; None for a blank row; `RowError` with every problem found."""
    if is_blank(cells):
        return None
    problems: list[str] = []
    if extra := extra_values(columns, cells):
        problems.append(extra)
    raw = dict(zip(columns, (c.strip() for c in cells), strict=False))
    sku = check_sku(raw.get("sku", ""), problems)
    values: dict[str, Any] = {}
    name = " ".join(raw.get("name", "").split())
    if not name:
        problems.append("name: missing")
    elif len(name) > 300:
        problems.append("name: longer than 300 characters")
    values["name"] = name
    try:
        price = parse_decimal(raw.get("price", ""))
        if price < 0:
            problems.append(f"price: {raw['price']!r} is negative")
        values["price"] = price
    except ValueError as exc:
        problems.append(f"price: {exc}")
    if "currency" in columns:
        currency = raw.get("currency", "").upper() or "EUR"
        if not CURRENCY_PATTERN.match(currency):
            problems.append(f"currency: {raw['currency']!r} is not a currency code like EUR")
        values["currency"] = currency
    if "category" in columns:
        category = " ".join(raw.get("category", "").split()) or None
        if category is not None and len(category) > 100:
            problems.append("category: longer than 100 characters")
        values["category"] = category
    if "active" in columns:
        try:
            active = parse_bool(raw.get("active", ""))
            values["active"] = True if active is None else active
        except ValueError as exc:
            problems.append(f"active: {exc}")
    if problems:
        raise RowError("; ".join(problems))
    return ProductRow(line=line, sku=sku, values=values)


def import_products(session: Session, *, clock: Clock, rows: list[ProductRow]) -> ImportReport:
    """Upsert a batch of catalogue rows by sku; columns the file lacks keep their value (new
    products take the defaults: EUR, no category, active). Does not commit."""
    result = ImportReport()
    existing = service.products_by_sku(session, (r.sku for r in rows))
    now = clock.now()
    new: list[dict[str, Any]] = []
    for row in rows:
        product = existing.get(row.sku)
        if product is None:
            new.append(
                {
                    "id": new_id(),
                    "sku": row.sku,
                    "currency": "EUR",
                    "category": None,
                    "active": True,
                    **row.values,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            continue
        changed = {k: v for k, v in row.values.items() if getattr(product, k) != v}
        if changed:
            for name, value in changed.items():
                setattr(product, name, value)
            result.updated += 1
        else:
            result.unchanged += 1
    if new:
        session.execute(insert(Product), new)
        service.mark_known(session, skus=[str(r["sku"]) for r in new])
    result.created = len(new)
    session.flush()
    return result


def run_products_import(
    factory: sessionmaker[Session],
    *,
    clock: Clock,
    file: ProductsCsv,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_bad_row: BadRow = ignore_bad_row,
    on_progress: Progress = ignore_progress,
) -> ImportReport:
    """Import every good catalogue row of `file`, one transaction per `batch_size` rows. A sku
    given twice in the file is a bad row the second time."""
    report = ImportReport()
    errors = Errors(report, on_bad_row)
    batch: list[ProductRow] = []
    first_line: dict[str, int] = {}
    last_line = file.header_lines

    def flush() -> None:
        if batch:
            with factory() as session, session.begin():
                done = import_products(session, clock=clock, rows=batch)
            add_up(report, done)
            batch.clear()
        errors.flush()

    for count, (start, end, cells) in enumerate(file.rows(), start=1):
        last_line = end
        if count % 250 == 0:
            on_progress(end)
        try:
            row = parse_product(file.columns, cells, line=start)
        except RowError as exc:
            report.rows += 1
            errors.add(start, str(exc))
            continue
        if row is None:
            continue
        report.rows += 1
        if row.sku in first_line:
            errors.add(start, f"sku: {row.sku!r} is already on line {first_line[row.sku]}")
            continue
        first_line[row.sku] = start
        batch.append(row)
        if len(batch) >= batch_size:
            flush()
    flush()
    on_progress(last_line)
    return report


# -- stock --------------------------------------------------------------------------------------


class StockCsv(CsvFile):
    """A stock count: store (unless `--store` names it), sku, quantity."""

    def __init__(self, path: Path, *, store: str | None = None) -> None:
        super().__init__(path)
        check_store_option(store)
        self.store = store
        required = ("sku", "quantity") if store else ("store", "sku", "quantity")
        check_columns(self.columns, known=STOCK_COLUMNS, required=required, doc=DOC)


@dataclass(frozen=True)
class StockRow:
    line: int
    store: str
    sku: str
    quantity: int


def parse_stock(
    columns: list[str], cells: list[str], *, line: int, store: str | None = None
) -> StockRow | None:
    """One stock row; `store` (the `--store` option) overrides the row's store column."""
    if is_blank(cells):
        return None
    problems: list[str] = []
    if extra := extra_values(columns, cells):
        problems.append(extra)
    raw = dict(zip(columns, (c.strip() for c in cells), strict=False))
    code = check_store_code(store or raw.get("store", ""), problems)
    sku = check_sku(raw.get("sku", ""), problems)
    quantity = 0
    try:
        quantity = parse_int(raw.get("quantity", ""))
        if quantity < 0:
            problems.append(f"quantity: {quantity} is negative (units on hand are a count)")
        elif quantity > MAX_STOCK:
            problems.append(f"quantity: {quantity} is more than {MAX_STOCK:,}")
    except ValueError as exc:
        problems.append(f"quantity: {exc}")
    if problems:
        raise RowError("; ".join(problems))
    return StockRow(line=line, store=code, sku=sku, quantity=quantity)


def import_stock(
    session: Session, *, clock: Clock, rows: list[StockRow], stores: dict[str, Store]
) -> tuple[ImportReport, list[tuple[int, str]]]:
    """Set the units on hand of each row's product in its store (reservations are kept). Rows
    naming an unknown store or sku are returned as `(line, reason)`. Does not commit."""
    result = ImportReport()
    bad: list[tuple[int, str]] = []
    known = service.products_by_sku(session, (r.sku for r in rows))
    good: list[StockRow] = []
    for row in rows:
        problems = []
        if row.store not in stores:
            problems.append(f"store: no store with code {row.store!r}")
        if row.sku not in known:
            problems.append(f"sku: no product with sku {row.sku!r} (import the catalogue first)")
        if problems:
            bad.append((row.line, "; ".join(problems)))
        else:
            good.append(row)
    if not good:
        return result, bad
    keys = {(stores[r.store].id, r.sku) for r in good}
    existing: dict[tuple[str, str], Stock] = {}
    for stock in session.scalars(
        select(Stock).where(
            Stock.store_id.in_({k[0] for k in keys}), Stock.sku.in_({k[1] for k in keys})
        )
    ):
        existing[(stock.store_id, stock.sku)] = stock
    now = clock.now()
    new: list[dict[str, Any]] = []
    for row in good:
        key = (stores[row.store].id, row.sku)
        found = existing.get(key)
        if found is None:
            new.append(
                {
                    "store_id": key[0],
                    "sku": row.sku,
                    "on_hand": row.quantity,
                    "reserved": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        elif found.on_hand != row.quantity:
            found.on_hand = row.quantity
            result.updated += 1
        else:
            result.unchanged += 1
    if new:
        session.execute(insert(Stock), new)
    result.created = len(new)
    session.flush()
    return result, bad


def run_stock_import(
    factory: sessionmaker[Session],
    *,
    clock: Clock,
    file: StockCsv,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_bad_row: BadRow = ignore_bad_row,
    on_progress: Progress = ignore_progress,
) -> ImportReport:
    """Import every good stock row of `file`, one transaction per `batch_size` rows. A product
    counted twice for the same store is a bad row the second time."""
    report = ImportReport()
    errors = Errors(report, on_bad_row)
    batch: list[StockRow] = []
    first_line: dict[tuple[str, str], int] = {}
    stores: dict[str, Store] = {}
    last_line = file.header_lines

    def flush() -> None:
        if batch:
            with factory() as session, session.begin():
                missing = {r.store for r in batch} - stores.keys()
                stores.update(service.stores_by_code(session, missing))
                done, bad = import_stock(session, clock=clock, rows=batch, stores=stores)
            add_up(report, done)
            for line, reason in bad:
                errors.add(line, reason)
            batch.clear()
        errors.flush()

    for count, (start, end, cells) in enumerate(file.rows(), start=1):
        last_line = end
        if count % 250 == 0:
            on_progress(end)
        try:
            row = parse_stock(file.columns, cells, line=start, store=file.store)
        except RowError as exc:
            report.rows += 1
            errors.add(start, str(exc))
            continue
        if row is None:
            continue
        report.rows += 1
        key = (row.store, row.sku)
        if key in first_line:
            errors.add(
                start, f"sku: {row.sku!r} in store {row.store} is already on line {first_line[key]}"
            )
            continue
        first_line[key] = start
        batch.append(row)
        if len(batch) >= batch_size:
            flush()
    flush()
    on_progress(last_line)
    return report
