"""Till sales from CSV (`phygital import pos FILE.csv [--store CODE]`): one in-store order per
receipt, through `orders.save_prepared` (identity resolution, unknown skus flagged, stock off the
shelf), idempotent on the receipt id.

A receipt with a bad row is skipped whole, so there are never half receipts; the rows of a
receipt need not be consecutive (a first pass finds the line each receipt ends on), and a
receipt is never cut between two batches. Large files are read and parsed in a second process
while this one writes.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy.orm import Session, sessionmaker

from phygital.commerce import service
from phygital.commerce.imports.common import (
    DEFAULT_POS_BATCH_SIZE,
    DOC,
    MAX_QUANTITY,
    POS_COLUMNS,
    POS_IDENTIFIER_COLUMNS,
    STORE_CODE_PATTERN,
    BadRow,
    Errors,
    ImportReport,
    Progress,
    add_up,
    cell,
    check_sku,
    check_store_option,
    ignore_bad_row,
    ignore_progress,
)
from phygital.commerce.models import OrderOrigin, Store
from phygital.commerce.orders import order_total, pairs_of, save_prepared
from phygital.core.clock import Clock
from phygital.core.collector import bulk_allocations
from phygital.core.csvfile import (
    CsvFile,
    RowError,
    check_columns,
    extra_values,
    is_blank,
    parse_decimal,
    parse_int,
    parse_time,
)
from phygital.core.readahead import MIN_ROWS, ReadAhead, read_ahead, worth_it
from phygital.db import one_connection
from phygital.identity import identifiers as ids
from phygital.identity.identifiers import Ident, IdentifierError
from phygital.identity.resolution import IdentityCarry


class PosCsv(CsvFile):
    """A till export: one row per receipt line (receipt_id, sold_at, store, sku, quantity,
    unit_price, customer_email, customer_phone, loyalty_card). `--store` fills or overrides the
    store column."""

    def __init__(self, path: Path, *, store: str | None = None) -> None:
        super().__init__(path)
        check_store_option(store)
        self.store = store
        required = ["receipt_id", "sold_at", "sku", "quantity", "unit_price"]
        if store is None:
            required.insert(2, "store")
        check_columns(self.columns, known=POS_COLUMNS, required=required, doc=DOC)


class PosRowError(RowError):
    """A bad till row, with its receipt id when it could be read (its receipt is skipped)."""

    def __init__(self, reason: str, receipt_id: str) -> None:
        super().__init__(reason)
        self.receipt_id = receipt_id


class PosLine(NamedTuple):
    """One good till row."""

    line: int
    receipt_id: str
    sold_at: datetime
    store: str
    sku: str
    quantity: int
    unit_price: Decimal
    identifiers: tuple[Ident, ...]


class PosParser:
    """Parses till rows; built once per file (column positions, caches for repeated values)."""

    def __init__(self, columns: list[str], *, region: str, tz: tzinfo, store: str | None) -> None:
        self.columns = columns
        self.width = len(columns)
        self.at = {name: columns.index(name) for name in columns}
        self.region = region
        self.tz = tz
        self.store = store
        self.identifier_columns = [
            (self.at[c], c, kind) for c, kind in POS_IDENTIFIER_COLUMNS.items() if c in self.at
        ]
        self._times: dict[str, datetime] = {}
        self._prices: dict[str, Decimal] = {}
        self._idents: dict[tuple[str, str], Ident | str] = {}

    def _identifier(self, kind: str, raw: str) -> Ident | str:
        """The identifier a cell holds, or why it cannot be one ("" for a placeholder: empty),
        remembered: the same customers come back receipt after receipt."""
        text = raw.strip()
        found: Ident | str
        if not text or ids.is_placeholder(text):
            found = ""
        else:
            try:
                found = ids.normalise(kind, text, region=self.region)
            except IdentifierError as exc:
                found = str(exc)
        if len(self._idents) >= 500_000:
            self._idents.clear()
        self._idents[(kind, raw)] = found
        return found

    def parse(self, cells: list[str], *, line: int) -> PosLine | None:
        """One till row; None for a blank row; `PosRowError` with every problem found."""
        if len(cells) == self.width:
            values = cells
        elif is_blank(cells):
            return None
        else:
            values = cells[: self.width] + [""] * (self.width - len(cells))
        at = self.at
        problems: list[str] = []
        if len(cells) > self.width and (extra := extra_values(self.columns, cells)):
            problems.append(extra)

        receipt_id = values[at["receipt_id"]].strip()
        if not receipt_id:
            problems.append("receipt_id: missing")
        elif len(receipt_id) > 100:
            problems.append("receipt_id: longer than 100 characters")
            receipt_id = ""

        raw_time = values[at["sold_at"]].strip()
        sold_at = self._times.get(raw_time)
        if sold_at is None:
            try:
                sold_at = parse_time(raw_time, tz=self.tz)
                if sold_at is None:
                    problems.append("sold_at: missing")
                elif len(self._times) < 10_000:
                    self._times[raw_time] = sold_at
            except ValueError as exc:
                problems.append(f"sold_at: {exc}")

        store = self.store or cell(values, at.get("store"))
        if not store:
            problems.append("store: missing (give a store column or --store CODE)")
        elif not STORE_CODE_PATTERN.match(store):
            problems.append(f"store: {store!r} is not a store code")

        sku = values[at["sku"]].strip()
        check_sku(sku, problems)

        quantity = 0
        raw_quantity = values[at["quantity"]]
        try:
            quantity = int(raw_quantity)
        except ValueError:
            try:
                quantity = parse_int(raw_quantity)
            except ValueError as exc:
                problems.append(f"quantity: {exc}")
        if quantity < 0:
            problems.append(
                f"quantity: {quantity} is negative; returns are not imported (the sale stays "
                "in the customer's history)"
            )
        elif quantity == 0 and not any(p.startswith("quantity") for p in problems):
            problems.append("quantity: 0; a receipt line sells at least 1")
        elif quantity > MAX_QUANTITY:
            problems.append(f"quantity: {quantity} is more than {MAX_QUANTITY:,}")

        raw_price = values[at["unit_price"]]
        price = self._prices.get(raw_price)
        if price is None:
            try:
                price = parse_decimal(raw_price)
                if price < 0:
                    problems.append(f"unit_price: {raw_price.strip()!r} is negative")
                elif len(self._prices) < 100_000:
                    self._prices[raw_price] = price
            except ValueError as exc:
                problems.append(f"unit_price: {exc}")

        identifiers: list[Ident] = []
        for index, column, kind in self.identifier_columns:
            raw = values[index]
            if not raw:
                continue
            found = self._idents.get((kind, raw))
            if found is None:
                found = self._identifier(kind, raw)
            if isinstance(found, Ident):
                identifiers.append(found)
            elif found:
                problems.append(f"{column}: {found}")

        if problems:
            raise PosRowError("; ".join(problems), receipt_id)
        assert sold_at is not None and price is not None
        return PosLine(
            line=line,
            receipt_id=receipt_id,
            sold_at=sold_at,
            store=store,
            sku=sku,
            quantity=quantity,
            unit_price=price,
            identifiers=tuple(identifiers),
        )


@dataclass
class Receipt:
    """The rows of one receipt read so far; `bad` rows make the whole receipt skipped."""

    receipt_id: str
    lines: list[PosLine] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)

    def add(self, line: PosLine) -> None:
        if self.lines:
            first = self.lines[0]
            if (
                line.identifiers == first.identifiers
                and line.sold_at == first.sold_at
                and line.store == first.store
            ):
                self.lines.append(line)  # the usual case: the receipt's header repeated
                return
            problems = []
            if line.sold_at != first.sold_at:
                problems.append(f"sold_at: differs from line {first.line} of the same receipt")
            if line.store != first.store:
                problems.append(f"store: differs from line {first.line} of the same receipt")
            known = {i.kind: (i.value, ln.line) for ln in self.lines for i in ln.identifiers}
            for ident in line.identifiers:
                value, where = known.get(ident.kind, (ident.value, 0))
                if value != ident.value:
                    column = _pos_column(ident.kind)
                    problems.append(f"{column}: differs from line {where} of the same receipt")
            if problems:
                self.bad.append((line.line, "; ".join(problems)))
                return
        self.lines.append(line)

    @property
    def rows(self) -> int:
        return len(self.lines) + len(self.bad)

    def ready(self) -> ReadReceipt:
        """The whole receipt, as it is sent to the writing process."""
        found: dict[str, Ident] = {}
        for line in self.lines:
            for ident in line.identifiers:
                found.setdefault(ident.key, ident)
        first = self.lines[0] if self.lines else None
        lines = tuple((ln.sku, ln.quantity, ln.unit_price, None) for ln in self.lines)
        return ReadReceipt(
            receipt_id=self.receipt_id,
            sold_at=first.sold_at if first else None,
            store=first.store if first else "",
            identifiers=tuple(found.values()),
            lines=lines,
            line_numbers=tuple(ln.line for ln in self.lines),
            bad=tuple(self.bad),
            total=order_total(lines),
            pairs=tuple(pairs_of(ln[0] for ln in lines)),
        )


class ReadReceipt(NamedTuple):
    """A receipt read whole: its good lines `(sku, quantity, unit price, None)` with their file
    lines, and its bad rows `(file line, reason)` (any bad row skips the receipt). Saved as an
    in-store order of the store channel just as it is (an `OrderToSave`), with the total and the
    product pairs computed here, by the reading process. Tuples throughout: receipts cross from
    the reading process, and tuples unpickle several times faster than objects."""

    receipt_id: str
    sold_at: datetime | None  # None: no good line
    store: str
    identifiers: tuple[Ident, ...]
    lines: tuple[tuple[str, int, Decimal, None], ...]
    line_numbers: tuple[int, ...]
    bad: tuple[tuple[int, str], ...]
    total: Decimal
    pairs: tuple[tuple[str, str], ...]

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt by the tuple constructor itself, not by a Python-level __new__ per receipt.
        return (tuple.__new__, (ReadReceipt, tuple(self)))

    # -- as an order (`OrderToSave`) -------------------------------------------------------------

    @property
    def external_id(self) -> str:
        return self.receipt_id

    @property
    def placed_at(self) -> datetime:
        assert self.sold_at is not None  # a receipt with a good line, the only kind saved
        return self.sold_at

    @property
    def channel(self) -> str:
        return "store"

    @property
    def fulfilment(self) -> str:
        return "in_store"

    @property
    def currency(self) -> str:
        return "EUR"

    @property
    def label(self) -> None:
        return None

    @property
    def note(self) -> None:
        return None

    @property
    def traits(self) -> dict[str, Any]:
        return {}


def _pos_column(kind: str) -> str:
    return next(c for c, k in POS_IDENTIFIER_COLUMNS.items() if k == kind)


def import_receipts(
    session: Session,
    *,
    clock: Clock,
    receipts: list[ReadReceipt],
    stores: dict[str, Store],
    carry: IdentityCarry | None = None,
) -> tuple[ImportReport, list[tuple[int, str]]]:
    """Save the good receipts as in-store orders (those already imported are left alone);
    return what was done and every row not imported with its reason. Does not commit."""
    result = ImportReport()
    bad: list[tuple[int, str]] = []
    good: list[ReadReceipt] = []
    for receipt in receipts:
        if receipt.lines and receipt.store not in stores:
            bad += receipt.bad
            bad += [
                (line, f"store: no store with code {receipt.store!r}")
                for line in receipt.line_numbers
            ]
        elif receipt.bad:
            bad += receipt.bad
            first_bad = min(line for line, _ in receipt.bad)
            bad += [
                (
                    line,
                    f"not imported: receipt {receipt.receipt_id} has a bad row on line {first_bad}",
                )
                for line in receipt.line_numbers
            ]
        elif receipt.lines:
            good.append(receipt)
    if good:
        saved = save_prepared(
            session,
            clock=clock,
            origin=OrderOrigin.POS,
            orders=good,
            stores=stores,
            carry=carry,
        )
        for receipt, done in zip(good, saved, strict=True):
            if done.created:
                result.created += 1
                if receipt.identifiers:
                    result.customers += 1
            else:
                result.unchanged += 1
    return result, bad


def last_lines(file: PosCsv) -> dict[str, int]:
    """The line each receipt ends on (a first pass over the file): a receipt is written only
    once all its rows are read, wherever they are in the file."""
    return file.last_line_of_each(file.columns.index("receipt_id"))


@dataclass
class Chunk:
    """Whole receipts read from the file (about a batch of rows), the rows found bad on their
    own, how many rows were read and the last line reached."""

    receipts: list[ReadReceipt]
    bad: list[tuple[int, str]]
    rows: int
    last_line: int


def read_receipts(
    file: PosCsv,
    *,
    region: str,
    tz: tzinfo,
    batch_size: int,
    ends: Connection | None = None,
) -> Generator[Chunk, None, None]:
    """The file's receipts, parsed and grouped, in chunks of about `batch_size` rows; a receipt
    is in a chunk once all its rows are read, wherever they are in the file (`last_lines`).
    `ends`: a pipe the last lines arrive on, worked out by the process that started this one
    while this one starts and parses (by default they are worked out here, first); the chunks
    are the same either way."""
    parser = PosParser(file.columns, region=region, tz=tz, store=file.store)
    last = last_lines(file) if ends is None else None
    open_receipts: dict[str, Receipt] = {}
    chunk = Chunk([], [], 0, file.header_lines)
    ready_rows = 0

    def complete(receipt_ids: Iterable[str], end: int) -> Iterator[Chunk]:
        """Move these receipts into the chunk, in order; each chunk that fills is yielded and
        the next starts after line `end`."""
        nonlocal chunk, ready_rows
        for receipt_id in receipt_ids:
            receipt = open_receipts.pop(receipt_id)
            chunk.receipts.append(receipt.ready())
            ready_rows += receipt.rows
            if ready_rows >= batch_size:
                yield chunk
                chunk = Chunk([], [], 0, end)
                ready_rows = 0

    def ended_before(line: int, last: dict[str, int]) -> list[str]:
        """The open receipts whose last line is before `line`, in the order they ended."""
        return sorted((r for r in open_receipts if last.get(r, line) < line), key=last.__getitem__)

    for count, (start, end, cells) in enumerate(file.rows()):
        if last is None and ends is not None and count % 1000 == 0 and ends.poll():
            last = ends.recv()
            yield from complete(ended_before(start, last), chunk.last_line)
        chunk.last_line = end
        try:
            line = parser.parse(cells, line=start)
        except PosRowError as exc:
            chunk.rows += 1
            receipt_id = exc.receipt_id
            if not receipt_id:
                chunk.bad.append((start, str(exc)))
                continue
            receipt = open_receipts.get(receipt_id)
            if receipt is None:
                receipt = open_receipts[receipt_id] = Receipt(receipt_id)
            receipt.bad.append((start, str(exc)))
        else:
            if line is None:
                continue
            chunk.rows += 1
            receipt_id = line.receipt_id
            receipt = open_receipts.get(receipt_id)
            if receipt is None:
                receipt = open_receipts[receipt_id] = Receipt(receipt_id)
            receipt.add(line)
        if last is not None and last.get(receipt_id) == start:
            yield from complete((receipt_id,), end)
    if last is None and ends is not None:  # a file read before its last lines arrived
        last = ends.recv()
        yield from complete(ended_before(chunk.last_line + 1, last), chunk.last_line)
    # None, unless the file changed meanwhile.
    chunk.receipts.extend(r.ready() for r in open_receipts.values())
    yield chunk


PARALLEL_MIN_ROWS = MIN_ROWS  # files read in a second process from this many rows


def run_pos_import(
    factory: sessionmaker[Session],
    *,
    clock: Clock,
    file: PosCsv,
    region: str,
    tz: tzinfo,
    batch_size: int = DEFAULT_POS_BATCH_SIZE,
    parallel: bool | None = None,
    on_bad_row: BadRow = ignore_bad_row,
    on_progress: Progress = ignore_progress,
) -> ImportReport:
    """Import every good receipt of `file` as an in-store order, one transaction per batch of
    about `batch_size` rows (whole receipts only). `created`: receipts imported; `unchanged`:
    receipts imported before (re-running a file imports nothing twice); `customers`: new
    receipts with a customer (the others are anonymous sales, counted for their store).

    `parallel` reads and parses the file in a second process while this one writes (default:
    for files of `PARALLEL_MIN_ROWS` rows or more, on a machine with more than one core)."""
    if parallel is None:
        parallel = worth_it(file.data_lines, threshold=PARALLEL_MIN_ROWS)
    ends_out: Connection | None = None
    if parallel:
        ends_in, ends_out = get_context("spawn").Pipe(duplex=False)
        chunks: ReadAhead[Chunk] | Generator[Chunk, None, None] = read_ahead(
            read_receipts, file, region=region, tz=tz, batch_size=batch_size, ends=ends_in
        )
        ends_in.close()  # the reader's end now
    else:
        chunks = read_receipts(file, region=region, tz=tz, batch_size=batch_size)
    report = ImportReport()
    errors = Errors(report, on_bad_row)
    stores: dict[str, Store] = {}
    carry = IdentityCarry()
    # closing: a failed batch stops the reading process too
    # One connection for every batch: the identity carry is handed on along it.
    with closing(chunks), bulk_allocations() as after_batch, one_connection(factory) as batches:
        if ends_out is not None:
            # The first pass over the file, here while the reader starts and parses.
            try:
                ends_out.send(last_lines(file))
            except BrokenPipeError:
                pass  # the reader stopped: the chunks say why
            finally:
                ends_out.close()
        for chunk in chunks:
            report.rows += chunk.rows
            for line, reason in chunk.bad:
                errors.add(line, reason)
            if chunk.receipts:
                with batches() as session, session.begin():
                    missing = {r.store for r in chunk.receipts if r.lines} - stores.keys()
                    stores.update(service.stores_by_code(session, missing))
                    done, bad = import_receipts(
                        session, clock=clock, receipts=chunk.receipts, stores=stores, carry=carry
                    )
                add_up(report, done)
                for line, reason in bad:
                    errors.add(line, reason)
            errors.flush()
            on_progress(chunk.last_line)
            del chunk  # its receipts are freed before the collector looks
            after_batch()
    return report
