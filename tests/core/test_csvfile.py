"""CSV files as imports read them (`core.csvfile`): the quick first pass over a column agrees
with the CSV reader on every file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phygital.core.csvfile import CsvFile

IDS = st.sampled_from(["R-1", " R-2 ", "R-3", "", "R;4", 'R"5', "R\n6", "R,7", "è-8"])
OTHER = st.sampled_from(["x", "", "a b", "q;r", "line\nbreak", 'say "hi"', "c,d"])


def reader_answer(file: CsvFile, index: int) -> dict[str, int]:
    """What the CSV reader says, row by row: the reference."""
    last: dict[str, int] = {}
    for start, _, cells in file.rows():
        if len(cells) > index and (value := cells[index].strip()):
            last[value] = start
    return last


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.one_of(st.tuples(IDS, OTHER), st.just(())), max_size=12),
    delimiter=st.sampled_from([",", ";", "\t"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    index=st.sampled_from([0, 1]),
)
def test_last_line_of_each_value_agrees_with_the_csv_reader(
    tmp_path: Path, rows: list[tuple[str, ...]], delimiter: str, newline: str, index: int
) -> None:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator=newline)
    writer.writerow(["receipt_id", "note"] if index == 0 else ["note", "receipt_id"])
    for row in rows:
        writer.writerow(row if index == 0 else tuple(reversed(row)))
    path = tmp_path / "file.csv"
    path.write_bytes(text.getvalue().encode())
    file = CsvFile(path)

    assert file.last_line_of_each(index) == reader_answer(file, index)


def test_a_plain_file_is_read_line_by_line_and_a_quoted_one_by_the_reader(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text("sep=;\nreceipt_id;sku\nR-1;A\n\nR-2;B\r\nR-1;C\n", encoding="utf-8-sig")
    assert CsvFile(plain).last_line_of_each(0) == {"R-1": 6, "R-2": 5}
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('receipt_id,sku\nR-1,"A\nB"\nR-2,C\nR-1,D\n', encoding="utf-8")
    assert CsvFile(quoted).last_line_of_each(0) == {"R-1": 5, "R-2": 4}
