"""`phygital import customers FILE.csv`: identity rules, bad rows by line, batches, consent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from phygital.core.clock import FrozenClock
from phygital.identity import importer
from phygital.identity import service as identity_service
from phygital.identity.identifiers import Ident
from phygital.identity.importer import RowError, parse_bool, parse_row, sniff_delimiter
from phygital.identity.models import Identifier, MergeRecord, Profile
from phygital.privacy.consent import ConsentStatement, record
from phygital.privacy.models import ConsentEntry
from tests.cli.conftest import Cli, Result, one_error_line

HEADER = "user_id,email,phone,first_name,last_name,loyalty_card"
ROME = ZoneInfo("Europe/Rome")


def write(tmp_path: Path, text: str, name: str = "clienti.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def summary(result: Result) -> str:
    return result.stderr.strip().splitlines()[-1]


# Helpers that read end their transaction: on SQLite an open one would block the next command.


def customers(db: Session) -> int:
    count = identity_service.count_customers(db)
    db.rollback()
    return count


def customer_of(db: Session, kind: str, value: str) -> identity_service.Customer:
    root = identity_service.find_by_identifier(db, Ident(kind, value))
    assert root is not None, f"no customer with {kind} {value}"
    customer = identity_service.get_customer(db, root)
    db.rollback()
    return customer


def consents(db: Session) -> list[ConsentEntry]:
    entries = list(db.scalars(select(ConsentEntry).order_by(ConsentEntry.at)))
    db.rollback()
    return entries


# -- a good file ----------------------------------------------------------------------------------


def test_a_good_file_creates_customers_with_normalised_identifiers(
    cli: Cli, db: Session, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        f"{HEADER}\n"
        "cust-1,Giulia.Bianchi@Example.com,347 123 4567,Giulia,Bianchi,lc 0001\n"
        ",marco.rossi@example.com,,Marco,Rossi,\n"
        ",,+39 02 1234 5678,,,\n"
        ",,,Anna,,VB-77\n",
    )
    result = cli("import", "customers", str(path))
    assert result.code == 0, result.stderr
    assert result.stdout == ""
    line = summary(result)
    assert "4 rows read" in line and "4 new customers" in line
    assert "0 joined" in line and "0 bad" in line and "rows/s" in line
    assert customers(db) == 4
    giulia = customer_of(db, "email", "giulia.bianchi@example.com")
    assert {(i.kind, i.value) for i in giulia.identifiers} == {
        ("user_id", "cust-1"),
        ("email", "giulia.bianchi@example.com"),
        ("phone", "+393471234567"),
        ("loyalty_card", "LC0001"),
    }
    assert giulia.traits == {"first_name": "Giulia", "last_name": "Bianchi"}
    assert giulia.name == "Giulia Bianchi"
    assert giulia.events == 0  # an import is not something the person did
    assert customer_of(db, "phone", "+390212345678").traits == {}
    assert customer_of(db, "loyalty_card", "VB-77").traits == {"first_name": "Anna"}
    origins = set(db.scalars(select(Identifier.origin)))
    assert origins == {"import"}


def test_columns_may_come_in_any_order_and_case(cli: Cli, db: Session, tmp_path: Path) -> None:
    path = write(tmp_path, " Last_Name , EMAIL \nVerdi,luca.verdi@example.com\n")
    assert cli("import", "customers", str(path)).code == 0
    assert customer_of(db, "email", "luca.verdi@example.com").traits == {"last_name": "Verdi"}


def test_placeholders_count_as_empty_and_blank_lines_are_skipped(
    cli: Cli, db: Session, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        f"{HEADER}\n,a@example.com,n/a,,,-\n\n,,,,,\n,b@example.com,000000,,,null\n",
    )
    result = cli("import", "customers", str(path))
    assert result.code == 0, result.stderr
    assert "2 rows read" in summary(result)
    assert db.scalar(select(func.count()).select_from(Identifier)) == 2


def test_a_header_only_file_imports_nothing(cli: Cli, db: Session, tmp_path: Path) -> None:
    result = cli("import", "customers", str(write(tmp_path, HEADER + "\n")))
    assert result.code == 0
    assert "0 rows read" in summary(result)
    assert customers(db) == 0


# -- bad rows -------------------------------------------------------------------------------------


def test_bad_rows_are_reported_by_line_and_good_rows_kept(
    cli: Cli, db: Session, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "email,phone,first_name,consent_marketing_email,consent_wording\n"  # line 1
        "ok1@example.com,,Uno,,\n"  # 2
        "not-an-email,,Due,,\n"  # 3
        ",12,Tre,,\n"  # 4
        ",,Quattro,,\n"  # 5
        "ok5@example.com,,Cinque,forse,\n"  # 6
        'ok6@example.com,,Sei,yes,"Accetto\nsu due righe"\n'  # 7-8
        "also bad,,Sette,,\n"  # 9
        "ok8@example.com,,Otto,,\n",  # 10
    )
    result = cli("import", "customers", str(path))
    assert result.code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("line 3: email: not an e-mail address")
    assert lines[1].startswith("line 4: phone: ")
    assert lines[2] == "line 5: no identifier: give a user_id, email, phone or loyalty_card"
    assert lines[3] == "line 6: consent_marketing_email: 'forse' is not yes or no"
    assert lines[4].startswith("line 9: email: ")
    assert len(lines) == 6
    assert "8 rows read" in lines[5] and "3 new customers" in lines[5] and "5 bad" in lines[5]
    emails = {i.value for i in db.scalars(select(Identifier).where(Identifier.kind == "email"))}
    assert emails == {"ok1@example.com", "ok6@example.com", "ok8@example.com"}
    assert [c.wording for c in consents(db)] == ["Accetto\nsu due righe"]


def test_a_row_reports_every_problem_it_has(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "email,consent_marketing_sms,consent_at\nbad,boh,ieri\n")
    result = cli("import", "customers", str(path))
    first = result.stderr.splitlines()[0]
    assert first.startswith("line 2: email: ")
    assert "consent_marketing_sms: 'boh' is not yes or no" in first
    assert "consent_at: 'ieri' is not a date" in first


def test_a_row_with_too_many_values_is_bad(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "email,first_name\na@example.com,Anna,extra\nb@example.com,Bea,,\n")
    result = cli("import", "customers", str(path))
    assert result.code == 1
    assert result.stderr.splitlines()[0] == "line 2: 3 values but the header has 2 columns"
    assert "1 new customer," in summary(result)  # trailing empty cells are fine


def test_an_unknown_column_refuses_the_whole_file(cli: Cli, db: Session, tmp_path: Path) -> None:
    path = write(tmp_path, "email,codice_fiscale\na@example.com,RSSMRA80A01F205X\n")
    result = cli("import", "customers", str(path))
    line = one_error_line(result)
    assert result.code == 1
    assert "unknown column 'codice_fiscale'" in line
    assert customers(db) == 0


def test_a_header_without_identifier_columns_is_refused(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "first_name,last_name\nAnna,Neri\n")
    assert "no identifier column" in one_error_line(cli("import", "customers", str(path)))


def test_a_repeated_column_is_refused(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "email,Email\na@example.com,b@example.com\n")
    assert "appears twice" in one_error_line(cli("import", "customers", str(path)))


def test_a_file_that_is_not_utf8_is_refused(cli: Cli, db: Session, tmp_path: Path) -> None:
    path = write(
        tmp_path, "email;first_name\na@example.com;Niccolò\n", encoding="cp1252", name="x.csv"
    )
    line = one_error_line(cli("import", "customers", str(path)))
    assert "x.csv: line 2 is not UTF-8" in line and "CSV UTF-8" in line
    assert customers(db) == 0


def test_a_missing_or_empty_file_is_one_line(cli: Cli, tmp_path: Path) -> None:
    assert "cannot read" in one_error_line(cli("import", "customers", str(tmp_path / "no.csv")))
    assert "empty" in one_error_line(cli("import", "customers", str(write(tmp_path, ""))))


# -- delimiter, BOM, Italian formats --------------------------------------------------------------


def test_an_italian_excel_export_with_semicolons_and_bom(
    cli: Cli, db: Session, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "\ufeffemail;phone;first_name;last_name;consent_marketing_email;"
        "consent_marketing_whatsapp;consent_at;consent_wording\r\n"
        "niccolo@example.com;333 765 4321;Niccolò;D'Amico;Sì;NO;03/02/2026 10:30;"
        '"Informativa; versione 2"\r\n'
        "chiara@example.com;;Chiara;Sala;si;;2026-02-04;\r\n",
        name="Esportazione clienti.csv",
    )
    result = cli("import", "customers", str(path))
    assert result.code == 0, result.stderr
    assert "2 new customers" in summary(result)
    niccolo = customer_of(db, "email", "niccolo@example.com")
    assert niccolo.traits == {"first_name": "Niccolò", "last_name": "D'Amico"}
    assert niccolo.first("phone") == "+393337654321"
    rows = {(c.channel, c.granted, c.at, c.wording, c.source) for c in consents(db)}
    feb3 = datetime(2026, 2, 3, 10, 30, tzinfo=ROME).astimezone(UTC)
    feb4 = datetime(2026, 2, 4, tzinfo=ROME).astimezone(UTC)
    source = "import:Esportazione clienti.csv"
    assert rows == {
        ("email", True, feb3, "Informativa; versione 2", source),
        ("whatsapp", False, feb3, "Informativa; versione 2", source),
        ("email", True, feb4, None, source),
    }


def test_excel_sep_line_names_the_delimiter(cli: Cli, db: Session, tmp_path: Path) -> None:
    path = write(tmp_path, "sep=;\nemail;first_name\na@example.com;Anna, detta Annina\nbad;B\n")
    result = cli("import", "customers", str(path))
    assert result.stderr.splitlines()[0].startswith("line 4: email: ")
    assert customer_of(db, "email", "a@example.com").traits == {"first_name": "Anna, detta Annina"}


def test_the_delimiter_is_sniffed_from_the_header() -> None:
    assert sniff_delimiter("email;phone;first_name\r\n") == ";"
    assert sniff_delimiter("email,phone\n") == ","
    assert sniff_delimiter('"email";"first_name"\n') == ";"
    assert sniff_delimiter("email\tphone\n") == "\t"
    assert sniff_delimiter("email\n") == ","


# -- consent --------------------------------------------------------------------------------------


def test_consent_is_recorded_with_its_proof(cli: Cli, db: Session, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,consent_marketing_email,consent_marketing_whatsapp,consent_marketing_sms,"
        "consent_profiling_email,consent_at,consent_wording\n"
        "a@example.com,yes,no,,1,2026-03-01T09:15:00+01:00,Modulo negozio v2\n"
        "b@example.com,false,,,,,\n",
        name="crm.csv",
    )
    before = datetime.now(UTC)
    assert cli("import", "customers", str(path)).code == 0
    a = customer_of(db, "email", "a@example.com")
    b = customer_of(db, "email", "b@example.com")
    entries = consents(db)
    given = {(c.profile_id, c.purpose, c.channel, c.granted) for c in entries}
    assert given == {
        (a.id, "marketing", "email", True),
        (a.id, "marketing", "whatsapp", False),
        (a.id, "profiling", "email", True),
        (b.id, "marketing", "email", False),
    }
    assert {c.source for c in entries} == {"import:crm.csv"}
    a_entries = [c for c in entries if c.profile_id == a.id]
    assert {c.at for c in a_entries} == {datetime(2026, 3, 1, 8, 15, tzinfo=UTC)}
    assert {c.wording for c in a_entries} == {"Modulo negozio v2"}
    (b_entry,) = [c for c in entries if c.profile_id == b.id]
    assert b_entry.at >= before - timedelta(seconds=1)  # no consent_at: stated at the import
    assert b_entry.wording is None


def test_a_consent_already_on_record_is_not_appended_again(
    cli: Cli, db: Session, tmp_path: Path, clock: FrozenClock
) -> None:
    created = identity_service.create_customer(
        db,
        clock=clock,
        region="IT",
        traits={},
        identifiers=[("email", "web@example.com")],
    )
    record(
        db,
        clock=clock,
        profile_id=created.profile_id,
        statements=[
            ConsentStatement("marketing", "email", True, clock.now(), "tracking:Sito web", "v3")
        ],
    )
    db.commit()
    path = write(
        tmp_path,
        "email,consent_marketing_email,consent_marketing_whatsapp\n"
        "web@example.com,yes,yes\n",  # e-mail: as on record; WhatsApp: new
    )
    assert cli("import", "customers", str(path)).code == 0
    entries = consents(db)
    assert [(c.channel, c.source) for c in entries if c.channel == "email"] == [
        ("email", "tracking:Sito web")
    ]
    assert [(c.channel, c.granted) for c in entries if c.channel == "whatsapp"] == [
        ("whatsapp", True)
    ]


def test_a_new_row_merged_later_in_the_file_is_checked_against_the_record(
    cli: Cli, db: Session, tmp_path: Path, clock: FrozenClock
) -> None:
    # Line 2 makes a new customer; line 3 joins it to one on record, whose consent line 2 repeats.
    created = identity_service.create_customer(
        db, clock=clock, region="IT", traits={}, identifiers=[("email", "old@example.com")]
    )
    record(
        db,
        clock=clock,
        profile_id=created.profile_id,
        statements=[ConsentStatement("marketing", "email", True, clock.now(), "tracking:Sito")],
    )
    db.commit()
    path = write(
        tmp_path,
        "email,phone,consent_marketing_email\n"
        ",+39 347 1112223,yes\n"
        "old@example.com,+39 347 1112223,\n",
    )
    assert cli("import", "customers", str(path)).code == 0
    assert customers(db) == 1
    assert [c.source for c in consents(db)] == ["tracking:Sito"]


def test_a_withdrawal_is_appended_and_becomes_the_current_state(
    cli: Cli, db: Session, tmp_path: Path
) -> None:
    write(tmp_path, "email,consent_marketing_email\nw@example.com,yes\n", name="one.csv")
    write(tmp_path, "email,consent_marketing_email\nw@example.com,no\n", name="two.csv")
    assert cli("import", "customers", str(tmp_path / "one.csv")).code == 0
    assert cli("import", "customers", str(tmp_path / "two.csv")).code == 0
    entries = consents(db)
    assert [(c.granted, c.source) for c in entries] == [
        (True, "import:one.csv"),
        (False, "import:two.csv"),
    ]


# -- the same rules as every touchpoint -----------------------------------------------------------


def test_a_row_joins_a_customer_made_through_another_path(
    cli: Cli, db: Session, tmp_path: Path, clock: FrozenClock
) -> None:
    existing = identity_service.create_customer(
        db,
        clock=clock,
        region="IT",
        traits={"firstName": "Giulia"},
        identifiers=[("email", "giulia@example.com"), ("anonymous_id", "device-1")],
    )
    db.commit()
    path = write(
        tmp_path, f"{HEADER}\ncust-9,GIULIA@example.com,347 000 1111,Giulia,Bianchi,LC-9\n"
    )
    result = cli("import", "customers", str(path))
    assert result.code == 0, result.stderr
    assert "0 new customers" in summary(result) and "1 joined an existing customer" in summary(
        result
    )
    assert customers(db) == 1
    giulia = customer_of(db, "loyalty_card", "LC-9")
    assert giulia.id == existing.customer_id
    assert {i.kind for i in giulia.identifiers} == {
        "user_id",
        "email",
        "phone",
        "loyalty_card",
        "anonymous_id",
    }
    assert giulia.traits["last_name"] == "Bianchi"


def test_a_row_linking_two_customers_merges_them_with_the_import_as_cause(
    cli: Cli, db: Session, tmp_path: Path, clock: FrozenClock
) -> None:
    for ident in (("email", "one@example.com"), ("phone", "+39 347 222 3333")):
        identity_service.create_customer(
            db, clock=clock, region="IT", traits={}, identifiers=[ident]
        )
    db.commit()
    path = write(tmp_path, "email,phone\none@example.com,3472223333\n", name="link.csv")
    assert cli("import", "customers", str(path)).code == 0
    assert customers(db) == 1
    merge = db.scalar(select(MergeRecord))
    assert merge is not None and merge.cause == "import"
    assert merge.detail["ref"] == "import:link.csv line 2"


def test_rows_with_different_user_ids_are_never_merged(
    cli: Cli, db: Session, tmp_path: Path
) -> None:
    path = write(tmp_path, "user_id,email\nu-1,shared@example.com\nu-2,shared@example.com\n")
    assert cli("import", "customers", str(path)).code == 0
    assert customers(db) == 2


def test_re_importing_a_file_creates_nothing_new(cli: Cli, db: Session, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"{HEADER},consent_marketing_email,consent_at\n"
        "c-1,a@example.com,347 111 2222,Anna,Neri,LC-1,yes,2026-01-10\n"
        ",b@example.com,,Bruno,,,no,\n"
        ",c@example.com,,Carla,,,sì,2026-01-11\n",
    )
    first = cli("import", "customers", str(path))
    assert first.code == 0 and "3 new customers" in summary(first)

    def snapshot() -> tuple[int, ...]:
        counts = tuple(
            db.scalar(select(func.count()).select_from(table)) or 0
            for table in (Profile, Identifier, ConsentEntry, MergeRecord)
        )
        db.rollback()
        return counts

    before = snapshot()
    assert before == (3, 6, 3, 0)
    again = cli("import", "customers", str(path))
    assert again.code == 0
    assert "0 new customers" in summary(again) and "3 joined" in summary(again)
    assert "0 consent statements" in summary(again)
    assert snapshot() == before


# -- batches --------------------------------------------------------------------------------------


def test_a_crash_loses_only_the_batch_in_progress(
    cli: Cli, db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "".join(f"p{i}@example.com\n" for i in range(7))
    path = write(tmp_path, "email\n" + rows)
    real = importer.import_batch
    calls = []

    def crash_on_third(session, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(kwargs["rows"]))
        if len(calls) == 3:
            raise RuntimeError("power cut")
        return real(session, **kwargs)

    monkeypatch.setattr(importer, "import_batch", crash_on_third)
    with pytest.raises(RuntimeError, match="power cut"):
        cli("import", "customers", str(path), "--batch-size", "2")
    assert calls == [2, 2, 2]
    assert customers(db) == 4
    monkeypatch.setattr(importer, "import_batch", real)
    resumed = cli("import", "customers", str(path), "--batch-size", "2")
    assert "3 new customers" in summary(resumed) and "4 joined" in summary(resumed)
    assert customers(db) == 7


def test_a_large_file_with_one_bad_row_keeps_all_the_others(
    cli: Cli, db: Session, tmp_path: Path
) -> None:
    lines = [f"{HEADER},consent_marketing_email,consent_at"]
    for i in range(2000):
        consent = ("yes", "no", "")[i % 3]
        lines.append(
            f"c-{i:05d},p{i}@example.com,+39 300 {i:07d},Nome{i},Cognome,VB-{i:06d},"
            f"{consent},{'2026-01-15' if consent else ''}"
        )
    lines.insert(1234, ",broken-email,,,,,,")
    path = write(tmp_path, "\n".join(lines) + "\n")
    result = cli("import", "customers", str(path))
    assert result.code == 1
    assert result.stderr.splitlines()[0].startswith("line 1235: email: ")
    assert "2,001 rows read" in summary(result) and "2,000 new customers" in summary(result)
    assert "1,334 consent statements" in summary(result)
    assert customers(db) == 2000


# -- pure parsing ---------------------------------------------------------------------------------


def test_parse_bool_accepts_the_documented_values() -> None:
    for value in ("yes", "YES", " y ", "true", "1", "si", "sì", "Sì", "s"):
        assert parse_bool(value) is True
    for value in ("no", "No", "n", "false", "0"):
        assert parse_bool(value) is False
    assert parse_bool("") is None and parse_bool("  ") is None
    with pytest.raises(ValueError, match="not yes or no"):
        parse_bool("maybe")


def test_parse_row_reads_times_in_the_company_time_zone() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    columns = ["email", "consent_marketing_email", "consent_at"]

    def at(value: str) -> datetime | None:
        row = parse_row(
            columns, ["a@example.com", "yes", value], line=2, region="IT", tz=ROME, now=now
        )
        assert row is not None
        return row.consent_at

    assert at("2026-05-01") == datetime(2026, 4, 30, 22, 0, tzinfo=UTC)
    assert at("01/05/2026 10:30") == datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
    assert at("2026-05-01T10:30:00Z") == datetime(2026, 5, 1, 10, 30, tzinfo=UTC)
    assert at("") is None
    with pytest.raises(RowError, match="consent_at: in the future"):
        at("2027-01-01")


def test_parse_row_of_a_blank_row_is_none() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert parse_row(["email"], ["  "], line=3, region="IT", tz=ROME, now=now) is None
    assert parse_row(["email"], [], line=3, region="IT", tz=ROME, now=now) is None


def test_import_help_documents_the_columns_and_exit_status(cli: Cli) -> None:
    for args in (("import",), ("import", "customers")):
        result = cli(*args, "--help")
        assert result.code == 0 and "Usage: phygital import" in result.stdout
    text = " ".join(cli("import", "customers", "--help").stdout.split())
    assert "consent_marketing_email" in text and "loyalty_card" in text
    assert "Exit status: 0 when every row was imported; 1 when some rows were bad" in text
