"""Customer import from CSV (`phygital import customers FILE.csv`; format in docs/import.md).

Three layers, so each can be tested on its own:

- reading: `CustomerCsv`, a `core.csvfile.CsvFile` (encoding, delimiter, header, rows with
  the line they start on, shared by every import), that also checks the customer columns;
- parsing: `parse_row` turns one raw row into a `CustomerRow` or says why it is bad (pure);
- importing: `import_batch` attaches a batch of rows through identity resolution, the one way
  anything is attached to a person, and appends their consent statements; `run_import` drives
  it, one transaction per batch, so a crash loses at most the batch in progress.

Re-importing a file creates nothing new: known identifiers join their customer, and a consent
statement that repeats what is already on record is not appended again.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from phygital.core.clock import Clock
from phygital.core.collector import bulk_allocations
from phygital.core.csvfile import (
    NO,
    YES,
    CsvFile,
    ImportFileError,
    RowError,
    extra_values,
    header_names,
    is_blank,
    parse_bool,
    parse_time,
    sniff_delimiter,
)
from phygital.core.readahead import read_ahead, worth_it
from phygital.identity import identifiers as ids
from phygital.identity.identifiers import Ident, IdentifierError
from phygital.identity.models import Profile
from phygital.identity.resolution import Observation, Resolution, resolve_many
from phygital.privacy import consent
from phygital.privacy.consent import ConsentStatement
from phygital.privacy.models import ContactChannel, Purpose

__all__ = [
    "NO",
    "YES",
    "CustomerCsv",
    "CustomerRow",
    "ImportFileError",
    "ImportReport",
    "RowError",
    "import_batch",
    "parse_bool",
    "parse_header",
    "parse_row",
    "parse_time",
    "run_import",
    "sniff_delimiter",
]

IDENTIFIER_COLUMNS = {
    "user_id": ids.USER_ID,
    "email": ids.EMAIL,
    "phone": ids.PHONE,
    "loyalty_card": ids.LOYALTY_CARD,
}
TRAIT_COLUMNS = ("first_name", "last_name")
CONSENT_COLUMNS = {
    f"consent_{purpose.value}_{channel.value}": (purpose.value, channel.value)
    for purpose in Purpose
    for channel in ContactChannel
}
PROOF_COLUMNS = ("consent_at", "consent_wording")
KNOWN_COLUMNS = (*IDENTIFIER_COLUMNS, *TRAIT_COLUMNS, *CONSENT_COLUMNS, *PROOF_COLUMNS)

DEFAULT_BATCH_SIZE = 5000
_MAX_TRAIT_LENGTH = 200
_MAX_WORDING_LENGTH = 5000


class CustomerRow(NamedTuple):
    """One good row: who the person is, their names, and what they said about contact. (A named
    tuple: rows cross from the reading process, and tuples pickle several times faster.)"""

    line: int
    identifiers: list[Ident]
    traits: dict[str, str]
    consents: list[tuple[str, str, bool]]  # (purpose, channel, granted)
    consent_at: datetime | None = None
    consent_wording: str | None = None


# -- reading ------------------------------------------------------------------------------------


def parse_header(cells: list[str]) -> list[str]:
    """Column names (trimmed, lower-cased), or `ImportFileError` for an unknown or repeated
    column or a header without any identifier column."""
    names = header_names(cells)
    for name in names:
        if name not in KNOWN_COLUMNS:
            shown = name or "(empty)"
            raise ImportFileError(
                f"unknown column {shown!r} in the header; the columns are "
                f"{', '.join((*IDENTIFIER_COLUMNS, *TRAIT_COLUMNS))}, "
                "consent_<purpose>_<channel> (e.g. consent_marketing_email), consent_at, "
                "consent_wording (see docs/import.md)"
            )
    if not any(n in IDENTIFIER_COLUMNS for n in names):
        raise ImportFileError(
            "the header has no identifier column: give at least one of "
            + ", ".join(IDENTIFIER_COLUMNS)
        )
    return names


class CustomerCsv(CsvFile):
    """A customers CSV file whose encoding and header were checked."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.columns = parse_header(self.header)


# -- parsing ------------------------------------------------------------------------------------


def parse_row(
    columns: list[str],
    cells: list[str],
    *,
    line: int,
    region: str,
    tz: tzinfo,
    now: datetime,
) -> CustomerRow | None:
    """One data row as a `CustomerRow`; None for a blank row; `RowError` with every problem
    found. Placeholder values (`n/a`, `-`, `null`, …) count as empty."""
    if is_blank(cells):
        return None
    problems: list[str] = []
    if extra := extra_values(columns, cells):
        problems.append(extra)
    values = dict(zip(columns, cells, strict=False))

    identifiers: list[Ident] = []
    for column, kind in IDENTIFIER_COLUMNS.items():
        raw = values.get(column, "").strip()
        if not raw or ids.is_placeholder(raw):
            continue
        try:
            identifiers.append(ids.normalise(kind, raw, region=region))
        except IdentifierError as exc:
            problems.append(f"{column}: {exc}")

    traits: dict[str, str] = {}
    for column in TRAIT_COLUMNS:
        raw = " ".join(values.get(column, "").split())
        if raw:
            if len(raw) > _MAX_TRAIT_LENGTH:
                problems.append(f"{column}: longer than {_MAX_TRAIT_LENGTH} characters")
            else:
                traits[column] = raw

    consents: list[tuple[str, str, bool]] = []
    for column, (purpose, channel) in CONSENT_COLUMNS.items():
        try:
            granted = parse_bool(values.get(column, ""))
        except ValueError as exc:
            problems.append(f"{column}: {exc}")
            continue
        if granted is not None:
            consents.append((purpose, channel, granted))

    consent_at: datetime | None = None
    try:
        consent_at = parse_time(values.get("consent_at", ""), tz=tz)
    except ValueError as exc:
        problems.append(f"consent_at: {exc}")
    if consent_at is not None and consent_at > now + timedelta(days=1):
        problems.append("consent_at: in the future")
    wording = values.get("consent_wording", "").strip() or None
    if wording is not None and len(wording) > _MAX_WORDING_LENGTH:
        problems.append(f"consent_wording: longer than {_MAX_WORDING_LENGTH} characters")

    if not identifiers and not problems:
        problems.append("no identifier: give a user_id, email, phone or loyalty_card")
    if problems:
        raise RowError("; ".join(problems))
    return CustomerRow(
        line=line,
        identifiers=sorted(set(identifiers), key=lambda i: (ids.priority(i.kind), i.kind)),
        traits=traits,
        consents=consents,
        consent_at=consent_at,
        consent_wording=wording,
    )


# -- importing ----------------------------------------------------------------------------------


@dataclass
class BatchResult:
    created: int = 0
    joined: int = 0
    consents: int = 0


def import_batch(
    session: Session, *, clock: Clock, rows: list[CustomerRow], source: str
) -> BatchResult:
    """Attach a batch of rows to their customers (creating, joining or merging by the usual
    rules) and record their consent statements with `source` as proof. Does not commit."""
    now = clock.now()
    observations = [
        Observation(
            identifiers=row.identifiers,
            at=now,
            traits=dict(row.traits),
            cause="import",
            ref=f"{source} line {row.line}",
            counts_as_event=False,
        )
        for row in rows
    ]
    resolutions = resolve_many(session, clock=clock, observations=observations)
    result = BatchResult()
    members: list[tuple[CustomerRow, Resolution]] = []
    for row, resolution in zip(rows, resolutions, strict=True):
        assert resolution is not None  # every good row has an identifier
        if resolution.created:
            result.created += 1
        else:
            result.joined += 1
        if row.consents:
            members.append((row, resolution))
    if members:
        result.consents = _record_consents(session, clock=clock, items=members, source=source)
    return result


@dataclass
class _Known:
    """Consent statements on record for one customer, purpose and channel."""

    entries: list[tuple[datetime, bool, str | None]] = field(default_factory=list)

    def repeats(self, at: datetime | None, granted: bool, wording: str | None) -> bool:
        if at is not None and (at, granted, wording) in self.entries:
            return True  # the same statement, already recorded
        if not self.entries:
            return False
        _, newest_granted, newest_wording = max(self.entries, key=lambda e: e[0])
        return newest_granted == granted and wording in (None, newest_wording)


def _record_consents(
    session: Session, *, clock: Clock, items: list[tuple[CustomerRow, Resolution]], source: str
) -> int:
    """Append each row's statements unless they repeat what is on record for the customer (or
    earlier in the file). Customers the batch created have nothing on record: not looked up."""
    on_record = {r.customer_id for _, r in items if not r.new_customer}
    known: dict[tuple[str, str, str], _Known] = {}
    if on_record:
        root_of = {
            member: root
            for member, root in session.execute(
                select(Profile.id, Profile.canonical_id).where(Profile.canonical_id.in_(on_record))
            )
        }
        for entry in consent.ledger(session, profile_ids=list(root_of)):
            key = (root_of[entry.profile_id], str(entry.purpose), str(entry.channel))
            known.setdefault(key, _Known()).entries.append((entry.at, entry.granted, entry.wording))

    now = clock.now()
    pending: dict[str, list[ConsentStatement]] = {}
    for row, resolution in items:
        profile_id = resolution.profile_id
        for purpose, channel, granted in row.consents:
            state = known.setdefault((resolution.customer_id, purpose, channel), _Known())
            if state.repeats(row.consent_at, granted, row.consent_wording):
                continue
            at = row.consent_at or now
            state.entries.append((at, granted, row.consent_wording))
            pending.setdefault(profile_id, []).append(
                ConsentStatement(
                    purpose=purpose,
                    channel=channel,
                    granted=granted,
                    at=at,
                    source=source,
                    wording=row.consent_wording,
                )
            )
    return consent.record_many(session, clock=clock, statements=pending)


@dataclass
class ImportReport:
    """What an import did: rows read (blank ones aside), new customers, rows that joined an
    existing customer, bad rows, consent statements appended."""

    rows: int = 0
    created: int = 0
    joined: int = 0
    bad: int = 0
    consents: int = 0

    @property
    def imported(self) -> int:
        return self.created + self.joined


@dataclass
class _Chunk:
    """A batch of parsed rows, what was wrong with the others, and where reading stopped."""

    rows: list[CustomerRow]
    bad: list[tuple[int, str]]
    read: int  # rows read (blank ones aside), good and bad
    last_line: int


def parse_file(
    file: CustomerCsv, *, region: str, tz: tzinfo, now: datetime, batch_size: int
) -> Generator[_Chunk, None, None]:
    """The file's rows parsed, `batch_size` good rows at a time (pure: no database)."""
    chunk = _Chunk([], [], 0, 1)
    for start, end, cells in file.rows():
        chunk.last_line = end
        try:
            row = parse_row(file.columns, cells, line=start, region=region, tz=tz, now=now)
        except RowError as exc:
            chunk.read += 1
            chunk.bad.append((start, str(exc)))
            continue
        if row is None:
            continue
        chunk.read += 1
        chunk.rows.append(row)
        if len(chunk.rows) >= batch_size:
            yield chunk
            chunk = _Chunk([], [], 0, end)
    yield chunk


def run_import(
    factory: sessionmaker[Session],
    *,
    clock: Clock,
    file: CustomerCsv,
    region: str,
    tz: tzinfo,
    batch_size: int = DEFAULT_BATCH_SIZE,
    parallel: bool | None = None,
    on_bad_row: Callable[[int, str], Any] = lambda line, reason: None,
    on_progress: Callable[[int], Any] = lambda lines: None,
) -> ImportReport:
    """Import every good row of `file`, committing every `batch_size` rows; report each bad row
    (`on_bad_row(line, reason)`) and the lines read so far (`on_progress(lines)`).

    `parallel` parses the file in a second process while this one writes (by default for files
    of 20,000 rows or more, on a machine with more than one core): normalising e-mail addresses
    and phone numbers is about half of an import's work."""
    report = ImportReport()
    source = f"import:{file.path.name}"
    if parallel is None:
        parallel = worth_it(file.data_lines)
    arguments: dict[str, Any] = {
        "region": region,
        "tz": tz,
        "now": clock.now(),
        "batch_size": batch_size,
    }
    chunks = (
        read_ahead(parse_file, file, **arguments) if parallel else parse_file(file, **arguments)
    )
    # closing: a failed batch stops the reading process too
    with closing(chunks), bulk_allocations() as after_batch:
        for chunk in chunks:
            for line, reason in chunk.bad:
                on_bad_row(line, reason)
            report.rows += chunk.read
            report.bad += len(chunk.bad)
            if chunk.rows:
                with factory() as session, session.begin():
                    done = import_batch(session, clock=clock, rows=chunk.rows, source=source)
                report.created += done.created
                report.joined += done.joined
                report.consents += done.consents
            on_progress(chunk.last_line)
            del chunk  # its rows are freed before the collector looks
            after_batch()
    return report
