"""Reading CSV files for the bulk imports (`phygital import …`; formats in docs/import.md).

What every import needs before it looks at a single value, so a file is refused as a whole (one
line, `ImportFileError`) or read row by row with the line each row starts on:

- the whole file is checked to be UTF-8 (with or without BOM) before anything is imported;
- the delimiter is `,`, `;` (Italian Excel) or a tab, sniffed from the header line, or named by
  Excel's `sep=;` first line;
- the header's column names are trimmed and lower-cased; unknown, repeated or missing columns
  refuse the file;
- rows come with the line they start and end on, as a text editor numbers them (the header is
  line 1), so a bad row is reported as `line N: column: reason`.

The small value parsers shared by the imports (yes/no, times, decimals) live here too.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path

_DELIMITERS = (",", ";", "\t")

YES = frozenset({"yes", "y", "true", "1", "si", "sì", "s"})
NO = frozenset({"no", "n", "false", "0"})


class ImportFileError(Exception):
    """The file cannot be imported at all (encoding, header); one line that says why."""


class RowError(ValueError):
    """One row that cannot be imported, with every reason found in it (`column: reason; …`)."""


def utf8_lines(path: Path) -> int:
    """Check that the whole file is UTF-8 before anything is imported; return its line count."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    newlines = 0
    last = b""
    with path.open("rb") as raw:
        while chunk := raw.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line = newlines + chunk.count(b"\n", 0, exc.start) + 1
                raise ImportFileError(
                    f"{path.name}: line {line} is not UTF-8 text; save the file as "
                    "'CSV UTF-8' (in Excel: Save as > CSV UTF-8)"
                ) from None
            newlines += chunk.count(b"\n")
            last = chunk
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ImportFileError(f"{path.name}: the file ends inside a UTF-8 character") from None
    return newlines + (1 if last and not last.endswith(b"\n") else 0)


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a header line: the most frequent of `,` `;` and tab outside quotes
    (header names never contain them); `,` for a one-column file."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def header_names(cells: list[str]) -> list[str]:
    """Column names (trimmed, lower-cased, a spreadsheet's trailing empty cells dropped), or
    `ImportFileError` for an empty header or a repeated column."""
    names = [c.strip().lower() for c in cells]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise ImportFileError("the file has no header line")
    for name in names:
        if names.count(name) > 1:
            raise ImportFileError(f"column {name!r} appears twice in the header")
    return names


def check_columns(
    names: list[str], *, known: Iterable[str], required: Iterable[str] = (), doc: str = ""
) -> None:
    """Refuse a header with a column outside `known` (a typo would otherwise import half the
    data silently) or without one of `required`."""
    known = tuple(known)
    for name in names:
        if name not in known:
            shown = name or "(empty)"
            raise ImportFileError(
                f"unknown column {shown!r} in the header; the columns are {', '.join(known)}"
                + (f" (see {doc})" if doc else "")
            )
    missing = [c for c in required if c not in names]
    if missing:
        raise ImportFileError(
            f"the header has no {', '.join(repr(c) for c in missing)} column"
            + ("s" if len(missing) > 1 else "")
        )


class CsvFile:
    """A CSV file whose encoding was checked and whose header was read (`header`: the raw
    cells; `columns`: the cleaned names)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.total_lines = utf8_lines(path)
        except OSError as exc:
            raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
        self.header_lines = 1
        with path.open(encoding="utf-8-sig", newline="") as text:
            first = text.readline()
            hint = first.strip()
            if len(hint) == 5 and hint.lower().startswith("sep="):
                # Excel's "sep=;" line names the delimiter; the header follows it.
                self.delimiter = hint[4]
                first = text.readline()
                self.header_lines = 2
            else:
                self.delimiter = sniff_delimiter(first)
        if not first.strip():
            raise ImportFileError(f"{path.name}: the file is empty or its header line is blank")
        self.header = next(csv.reader(io.StringIO(first), self._dialect()))
        self.columns = header_names(self.header)

    @property
    def data_lines(self) -> int:
        """Lines after the header: the progress bar's total."""
        return max(self.total_lines - self.header_lines, 1)

    def _dialect(self) -> type[csv.Dialect]:
        class Dialect(csv.excel):
            delimiter = self.delimiter

        return Dialect

    def rows(self) -> Iterator[tuple[int, int, list[str]]]:
        """`(first line, last line, cells)` of each data row, blank lines included as `[]`.
        A malformed CSV structure raises `ImportFileError` naming its line."""
        with self.path.open(encoding="utf-8-sig", newline="") as text:
            reader = csv.reader(text, self._dialect())
            try:
                for _ in range(self.header_lines):
                    next(reader)  # the header, already checked
                while True:
                    start = reader.line_num + 1
                    try:
                        cells = next(reader)
                    except StopIteration:
                        return
                    yield start, reader.line_num, cells
            except csv.Error as exc:
                raise ImportFileError(
                    f"{self.path.name}: line {reader.line_num}: not valid CSV: {exc}"
                ) from None

    def last_line_of_each(self, index: int) -> dict[str, int]:
        """The line on which each value of column `index` (stripped, not empty) last starts a
        row. A file without a quote (the usual till export) is split on its delimiter, line by
        line, at twice the speed of the CSV reader; any other is read by the CSV reader."""
        last: dict[str, int] = {}
        delimiter = self.delimiter
        with self.path.open(encoding="utf-8-sig", newline="") as text:
            for _ in range(self.header_lines):
                text.readline()
            # The same lines as the CSV reader's (it reads this same iterator).
            for number, line in enumerate(text, self.header_lines + 1):
                if '"' in line or "\0" in line:
                    break
                cells = line.split(delimiter, index + 1)
                if len(cells) > index and (value := cells[index].strip()):
                    last[value] = number
            else:
                return last
        last = {}
        for start, _, cells in self.rows():
            if len(cells) > index and (value := cells[index].strip()):
                last[value] = start
        return last


def is_blank(cells: list[str]) -> bool:
    return not any(c.strip() for c in cells)


def extra_values(columns: list[str], cells: list[str]) -> str | None:
    """The reason a row has more (non-empty) values than the header has columns, if it has."""
    if any(c.strip() for c in cells[len(columns) :]):
        return f"{len(cells)} values but the header has {len(columns)} columns"
    return None


# -- values -------------------------------------------------------------------------------------


def parse_bool(value: str) -> bool | None:
    """yes/no, true/false, 1/0, sì/no (any case); empty means not stated (None)."""
    v = value.strip().lower()
    if not v:
        return None
    if v in YES:
        return True
    if v in NO:
        return False
    raise ValueError(f"{value.strip()!r} is not yes or no")


def parse_time(value: str, *, tz: tzinfo) -> datetime | None:
    """ISO 8601 (`2026-03-01`, `2026-03-01T10:30:00+01:00`) or Italian `01/03/2026 [10:30]`;
    a time without an offset is in the company's time zone. Returned in UTC."""
    text = value.strip()
    if not text:
        return None
    parsed: datetime | None = None
    try:
        if len(text) == 10 and text[4] == "-":
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
        else:
            iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
            parsed = datetime.fromisoformat(iso)
    except ValueError:
        for pattern in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y"):
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueError(f"{text!r} is not a date (use 2026-03-01 or 01/03/2026 10:30)")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


_MONEY_CHARS = frozenset("0123456789.,-+")


def parse_decimal(value: str, *, places: int = 2, max_digits: int = 12) -> Decimal:
    """A decimal number as spreadsheets write it: `89.90`, Italian `89,90`, and with a
    thousands separator `1.234,50` or `1,234.50` (the last of `.` and `,` is the decimal
    point). At most `places` decimals."""
    text = value.strip().replace(" ", "").replace("\u00a0", "")
    if not text:
        raise ValueError("missing")
    if not set(text) <= _MONEY_CHARS:
        raise ValueError(f"{value.strip()!r} is not a number (write 89.90 or 89,90)")
    comma, dot = text.rfind(","), text.rfind(".")
    if comma >= 0 and dot >= 0:
        thousands = "." if comma > dot else ","
        text = text.replace(thousands, "")
    if text.count(",") > 1 or text.count(".") > 1:
        raise ValueError(f"{value.strip()!r} is not a number (write 89.90 or 89,90)")
    try:
        number = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"{value.strip()!r} is not a number (write 89.90 or 89,90)") from None
    if not number.is_finite():
        raise ValueError(f"{value.strip()!r} is not a number")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        raise ValueError(f"{value.strip()!r} has more than {places} decimals")
    if abs(number) >= Decimal(10) ** (max_digits - places):
        raise ValueError(f"{value.strip()!r} is too large")
    return number


def parse_int(value: str) -> int:
    """A whole number (`3`, `+3`, `-1`; `3.0` and `3,0` too, as spreadsheets write counts)."""
    text = value.strip()
    if not text:
        raise ValueError("missing")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a whole number") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number")
    return int(number)
