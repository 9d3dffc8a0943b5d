"""Till sales (POS CSV) import: one order per receipt, customers through identity resolution,
anonymous sales kept for the store, bad rows by line, receipts never cut, re-runs idempotent."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from phygital.commerce import imports, service
from phygital.commerce.models import Order, OrderLine, Stock, Store
from phygital.commerce.schemas import ProductCreate, StoreCreate
from phygital.core.clock import FrozenClock
from phygital.core.csvfile import ImportFileError, parse_decimal
from phygital.identity import service as identity_service
from phygital.identity.identifiers import Ident

ROME = ZoneInfo("Europe/Rome")
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pos" / "sales.csv"
HEADER = (
    "receipt_id,sold_at,store,sku,quantity,unit_price,customer_email,customer_phone,loyalty_card"
)
PRODUCTS = {
    "BIKE-HELM-M-BLU": ("Casco urbano blu M", "89.90"),
    "BIKE-LIGHT-USB": ("Luce USB ricaricabile", "40.00"),
    "BIKE-GLOVE-L": ("Guanti L", "24.50"),
    "BOTTLE-TERM-750": ("Borraccia termica 750 ml", "27.00"),
}


def make_shop(db: Session, *, stock: int = 10) -> None:
    """Stores MI-BRERA and TO-CENTRO, the fixture's four products, `stock` units of each."""
    stores = [
        service.create_store(db, data=StoreCreate(code=code, name=name))
        for code, name in (("MI-BRERA", "Milano Brera"), ("TO-CENTRO", "Torino Centro"))
    ]
    for sku, (name, price) in PRODUCTS.items():
        service.create_product(db, data=ProductCreate(sku=sku, name=name, price=Decimal(price)))
        for store in stores:
            service.set_stock(db, store=store, sku=sku, quantity=stock)
    db.commit()


@pytest.fixture
def shop(db: Session) -> None:
    make_shop(db)


def write(tmp_path: Path, text: str, name: str = "vendite.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(
    factory: sessionmaker[Session],
    clock: FrozenClock,
    path: Path,
    *,
    store: str | None = None,
    batch_size: int = imports.DEFAULT_POS_BATCH_SIZE,
    parallel: bool = False,
) -> tuple[imports.ImportReport, list[tuple[int, str]]]:
    bad: list[tuple[int, str]] = []
    report = imports.run_pos_import(
        factory,
        clock=clock,
        file=imports.PosCsv(path, store=store),
        region="IT",
        tz=ROME,
        batch_size=batch_size,
        parallel=parallel,
        on_bad_row=lambda line, reason: bad.append((line, reason)),
    )
    return report, bad


def order(db: Session, receipt_id: str) -> Order:
    found = db.scalar(
        select(Order).where(Order.channel == "store", Order.external_id == receipt_id)
    )
    assert found is not None, f"no order for receipt {receipt_id}"
    return found


def lines(db: Session, receipt_id: str) -> list[tuple[str, int, Decimal, bool]]:
    rows = db.execute(
        select(OrderLine.sku, OrderLine.quantity, OrderLine.unit_price, OrderLine.known)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.external_id == receipt_id)
        .order_by(OrderLine.id)
    )
    return [(sku, q, p, k) for sku, q, p, k in rows]


def customer_id(db: Session, kind: str, value: str) -> str:
    root = identity_service.find_by_identifier(db, Ident(kind, value))
    assert root is not None, f"no customer with {kind} {value}"
    return root


def count(db: Session, entity: type) -> int:
    return db.scalar(select(func.count()).select_from(entity)) or 0


def on_hand(db: Session, store: str, sku: str) -> int:
    row = db.scalar(
        select(Stock.on_hand)
        .join(Store, Store.id == Stock.store_id)
        .where(Store.code == store, Stock.sku == sku)
    )
    db.rollback()
    return int(row or 0)


# -- the fixture --------------------------------------------------------------------------------


def test_the_fixture_imports_three_receipts_with_their_customers(
    shop: None, session_factory: sessionmaker[Session], clock: FrozenClock, db: Session
) -> None:
    report, bad = run(session_factory, clock, FIXTURE)

    assert bad == []
    assert (report.rows, report.created, report.customers, report.bad) == (4, 3, 2, 0)
    first = order(db, "R-2026-000311")
    assert first.channel == "store" and first.fulfilment == "in_store"
    assert first.status == "fulfilled" and first.origin == "pos"
    assert first.total == Decimal("114.40") and first.lines_count == 2
    assert first.placed_at.isoformat() == "2026-11-21T10:02:00+00:00"
    assert lines(db, "R-2026-000311") == [
        ("BIKE-HELM-M-BLU", 1, Decimal("89.90"), True),
        ("BIKE-GLOVE-L", 1, Decimal("24.50"), True),
    ]
    # Found by phone and by loyalty card: one customer with both.
    by_phone = customer_id(db, "phone", "+393471234567")
    assert customer_id(db, "loyalty_card", "LC-0044812") == by_phone
    assert identity_service.roots_of(db, [first.profile_id or ""]) == {first.profile_id: by_phone}
    second = order(db, "R-2026-000312")
    assert second.total == Decimal("54.00")
    assert identity_service.roots_of(db, [second.profile_id or ""])[second.profile_id] == (
        customer_id(db, "email", "marco.rossi@example.it")
    )
    anonymous = order(db, "R-2026-000313")
    assert anonymous.profile_id is None


def test_the_store_counts_the_anonymous_sale(
    shop: None, session_factory: sessionmaker[Session], clock: FrozenClock, db: Session
) -> None:
    run(session_factory, clock, FIXTURE)

    orders, revenue = db.execute(
        select(func.count(Order.id), func.sum(Order.total))
        .join(Store, Store.id == Order.store_id)
        .where(Store.code == "MI-BRERA")
    ).one()
    assert orders == 3
    assert Decimal(revenue) == Decimal("208.40")


def test_a_known_customer_gets_the_sale_and_their_counters_move(
    shop: None,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    db: Session,
) -> None:
    marco = identity_service.create_customer(
        db,
        clock=clock,
        traits={"first_name": "Marco"},
        identifiers=[("email", "Marco.Rossi@example.it")],
        region="IT",
    )
    db.commit()

    run(session_factory, clock, FIXTURE)

    customer = identity_service.get_customer(db, marco.customer_id)
    assert customer.orders == 1 and customer.revenue == Decimal("54.00")
    assert "store" in customer.channels
    assert customer.last_seen_at is not None
    assert customer.last_seen_at.isoformat() == "2026-11-21T10:20:00+00:00"


def test_re_importing_the_file_imports_nothing_twice(
    shop: None, session_factory: sessionmaker[Session], clock: FrozenClock, db: Session
) -> None:
    run(session_factory, clock, FIXTURE)
    before = (count(db, Order), count(db, OrderLine), on_hand(db, "MI-BRERA", "BIKE-GLOVE-L"))
    customer = identity_service.get_customer(db, customer_id(db, "loyalty_card", "LC-0044812"))
    db.rollback()

    report, bad = run(session_factory, clock, FIXTURE)

    assert bad == []
    assert (report.rows, report.created, report.unchanged) == (4, 0, 3)
    after = (count(db, Order), count(db, OrderLine), on_hand(db, "MI-BRERA", "BIKE-GLOVE-L"))
    assert after == before
    again = identity_service.get_customer(db, customer.id)
    assert (
        (again.orders, again.revenue)
        == (customer.orders, customer.revenue)
        == (
            1,
            Decimal("114.40"),
        )
    )


def test_in_store_sales_take_units_off_the_shelf(
    shop: None, session_factory: sessionmaker[Session], clock: FrozenClock, db: Session
) -> None:
    run(session_factory, clock, FIXTURE)

    assert on_hand(db, "MI-BRERA", "BOTTLE-TERM-750") == 8
    assert on_hand(db, "MI-BRERA", "BIKE-HELM-M-BLU") == 9
    assert on_hand(db, "TO-CENTRO", "BOTTLE-TERM-750") == 10


def test_an_unknown_sku_is_kept_and_flagged_until_the_catalogue_has_it(
    shop: None,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    db: Session,
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        f"{HEADER}\n"
        "R-1,2026-11-19T16:00:00+01:00,MI-BRERA,BIKE-LIGHT-USB,1,40.00,,,\n"
        "R-1,2026-11-19T16:00:00+01:00,MI-BRERA,NEW-SADDLE-01,1,55.00,,,\n",
    )

    report, bad = run(session_factory, clock, path)

    assert (report.created, bad) == (1, [])
    assert order(db, "R-1").unknown_skus == 1
    assert lines(db, "R-1")[1] == ("NEW-SADDLE-01", 1, Decimal("55.00"), False)
    assert [u.sku for u in service.unknown_skus(db)] == ["NEW-SADDLE-01"]
    db.rollback()
    service.create_product(
        db, data=ProductCreate(sku="NEW-SADDLE-01", name="Sella", price=Decimal("55.00"))
    )
    db.commit()
    assert lines(db, "R-1")[1][3] is True


# -- bad rows -------------------------------------------------------------------------------------


def test_bad_rows_are_reported_by_line_and_column_and_their_receipts_skipped_whole(
    shop: None,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    db: Session,
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        f"{HEADER}\n"
        "R-1,2026-11-19T16:00:00+01:00,MI-BRERA,BIKE-LIGHT-USB,1,40.00,,,\n"  # 2: good
        "R-2,2026-11-19T16:05:00+01:00,MI-BRERA,BIKE-LIGHT-USB,1,40.00,,,\n"  # 3: receipt bad
        "R-2,2026-11-19T16:05:00+01:00,MI-BRERA,BIKE-GLOVE-L,two,24.50,,,\n"  # 4: quantity
        "R-3,2026-11-19T16:10:00+01:00,MI-BRERA,BIKE-GLOVE-L,-1,24.50,,,\n"  # 5: a return
        "R-4,yesterday,MI-BRERA,BIKE-GLOVE-L,1,24.50,,,\n"  # 6: time
        "R-5,2026-11-19T16:20:00+01:00,XX-NOWHERE,BIKE-GLOVE-L,1,24.50,,,\n"  # 7: store
        "R-6,2026-11-19T16:25:00+01:00,MI-BRERA,BIKE-GLOVE-L,1,€ 24,,,\n"  # 8: price
        "R-7,2026-11-19T16:30:00+01:00,MI-BRERA,BIKE-GLOVE-L,1,24.50,not-an-email,,\n"  # 9
        ",2026-11-19T16:35:00+01:00,MI-BRERA,BIKE-GLOVE-L,1,24.50,,,\n"  # 10: no receipt
        "\n"  # 11: blank, skipped
        "R-8,2026-11-19T16:40:00+01:00,MI-BRERA,BIKE-GLOVE-L,0,-3,,,\n"  # 12: two problems
        "R-9,2026-11-19T16:45:00+01:00,MI-BRERA,BOTTLE-TERM-750,1,27.00,,,\n",  # 13: good
    )

    report, bad = run(session_factory, clock, path)

    assert [line for line, _ in bad] == [3, 4, 5, 6, 7, 8, 9, 10, 12]
    reasons = dict(bad)
    assert reasons[3] == "not imported: receipt R-2 has a bad row on line 4"
    assert reasons[4] == "quantity: 'two' is not a whole number"
    assert reasons[5].startswith("quantity: -1 is negative; returns are not imported")
    assert reasons[6].startswith("sold_at: 'yesterday' is not a date")
    assert reasons[7] == "store: no store with code 'XX-NOWHERE'"
    assert reasons[8].startswith("unit_price: '€ 24' is not a number")
    assert reasons[9].startswith("customer_email: not an e-mail address")
    assert reasons[10] == "receipt_id: missing"
    assert reasons[12] == (
        "quantity: 0; a receipt line sells at least 1; unit_price: '-3' is negative"
    )
    assert (report.rows, report.created, report.bad) == (11, 2, 9)
    assert {o.external_id for o in db.scalars(select(Order))} == {"R-1", "R-9"}


def test_fixing_the_bad_rows_and_re_running_imports_only_what_was_missing(
    shop: None,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    db: Session,
    tmp_path: Path,
) -> None:
    good = "R-1,2026-11-19T16:00:00+01:00,MI-BRERA,BIKE-LIGHT-USB,1,40.00,,,\n"
    path = write(tmp_path, f"{HEADER}\n{good}R-2,2026-11-19T16:05:00+01:00,MI-BRERA,X Y,1,1,,,\n")
    first, bad = run(session_factory, clock, path)
    assert (first.created, [line for line, _ in bad]) == (1, [3])

    path = write(tmp_path, f"{HEADER}\n{good}R-2,2026-11-19T16:05:00+01:00,MI-BRERA,X-Y,1,1,,,\n")
    second, bad = run(session_factory, clock, path)

    assert (second.created, second.unchanged, bad) == (1, 1, [])
    assert count(db, Order) == 2


def test_rows_of_one_receipt_that_disagree_are_bad(
    shop: None,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    db: Session,
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        f"{HEADER}\n"
        "R-1,2026-11-19T16:00:00+01:00,MI-BRERA,BIKE-LIGHT-USB,1,40.00,a@example.it,,\n"
        "R-1,2026-11-19T16:00:00+01:00,MI-BRERA,BIKE-GLOVE-L,1,24.50,b@example.it,,\n"
        "R-2,2026-11-19T16:00:00+01:00,MI-BRERA,BIKE-LIGHT-USB,1,40.00,,,\n"
        "R-2,2026-11-19T17:00:00+01:00,TO-CENTRO,BIKE-GLOVE-L,1,24.50,,,\n"
        # The loyalty card only on the first line, the e-mail only on the second: one person.
        "R-3,2026-11-19T16:00:00+01:00,MI-BRERA,BIKE-LIGHT-USB,1,40.00,,,LC-9\n"
        "R-3,2026-11-19T16:00:00+01:00,MI-BRERA,BIKE-GLOVE-L,1,24.50,c@example.it,,\n",
    )

    report, bad = run(session_factory, clock, path)

    assert bad == [
        (2, "not imported: receipt R-1 has a bad row on line 3"),
        (3, "customer_email: differs from line 2 of the same receipt"),
        (4, "not imported: receipt R-2 has a bad row on line 5"),
        (
            5,
            "sold_at: differs from line 4 of the same receipt; "
            "store: differs from line 4 of the same receipt",
        ),
    ]
    assert report.created == 1
    assert customer_id(db, "loyalty_card", "LC-9") == customer_id(db, "email", "c@example.it")


# -- receipts and batches -------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 2, 3, 1000])
def test_a_receipt_is_never_cut_between_batches_even_when_its_rows_are_apart(
    shop: None,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    db: Session,
    tmp_path: Path,
    batch_size: int,
) -> None:
    row = "{r},2026-11-19T16:00:00+01:00,MI-BRERA,{sku},1,10.00,,,{card}\n"
    path = write(
        tmp_path,
        HEADER
        + "\n"
        + row.format(r="R-1", sku="BIKE-LIGHT-USB", card="LC-1")
        + row.format(r="R-1", sku="BIKE-GLOVE-L", card="LC-1")
        + row.format(r="R-2", sku="BIKE-LIGHT-USB", card="")
        + row.format(r="R-1", sku="BOTTLE-TERM-750", card="LC-1")  # R-1 again, further down
        + row.format(r="R-3", sku="BIKE-LIGHT-USB", card="LC-3")
        + row.format(r="R-3", sku="BIKE-GLOVE-L", card="LC-3")
        + row.format(r="R-3", sku="BIKE-HELM-M-BLU", card="LC-3")
        + row.format(r="R-2", sku="BIKE-GLOVE-L", card=""),
    )

    report, bad = run(session_factory, clock, path, batch_size=batch_size)

    assert (report.created, bad) == (3, [])
    assert [ln[0] for ln in lines(db, "R-1")] == [
        "BIKE-LIGHT-USB",
        "BIKE-GLOVE-L",
        "BOTTLE-TERM-750",
    ]
    assert [ln[0] for ln in lines(db, "R-2")] == ["BIKE-LIGHT-USB", "BIKE-GLOVE-L"]
    assert len(lines(db, "R-3")) == 3
    assert order(db, "R-1").total == Decimal("30.00")
    customer = identity_service.get_customer(db, customer_id(db, "loyalty_card", "LC-1"))
    assert customer.orders == 1


def test_reading_in_a_second_process_imports_the_same(
    shop: None,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    db: Session,
    tmp_path: Path,
) -> None:
    row = "{r},2026-11-19T16:00:00+01:00,MI-BRERA,{sku},{q},10.00,,,LC-{r}\n"
    path = write(
        tmp_path,
        HEADER
        + "\n"
        + row.format(r="R-1", sku="BIKE-LIGHT-USB", q=1)
        + row.format(r="R-2", sku="BIKE-LIGHT-USB", q="x")
        + row.format(r="R-1", sku="BIKE-GLOVE-L", q=2)
        + row.format(r="R-2", sku="BIKE-GLOVE-L", q=1)
        + row.format(r="R-3", sku="BIKE-GLOVE-L", q=1),
    )

    report, bad = run(session_factory, clock, path, batch_size=1, parallel=True)

    assert (report.rows, report.created, report.customers, report.bad) == (5, 2, 2, 2)
    assert bad == [
        (3, "quantity: 'x' is not a whole number"),
        (5, "not imported: receipt R-2 has a bad row on line 3"),
    ]
    assert order(db, "R-1").total == Decimal("30.00")
    assert customer_id(db, "loyalty_card", "LC-R-3")


def test_a_receipt_seen_twice_in_one_batch_is_one_order(
    shop: None,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    db: Session,
    tmp_path: Path,
) -> None:
    row = "R-1,2026-11-19T16:00:00+01:00,MI-BRERA,BIKE-LIGHT-USB,1,40.00,,,\n"
    path = write(tmp_path, f"{HEADER}\n{row}{row}")

    report, bad = run(session_factory, clock, path)

    assert (report.created, bad) == (1, [])
    assert lines(db, "R-1") == [("BIKE-LIGHT-USB", 1, Decimal("40.00"), True)] * 2


# -- the file -------------------------------------------------------------------------------------


def test_store_option_fills_or_overrides_the_store_column(
    shop: None,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    db: Session,
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "receipt_id,sold_at,sku,quantity,unit_price\n"
        "T-1,2026-11-19T16:00:00+01:00,BIKE-LIGHT-USB,1,40.00\n",
    )
    with pytest.raises(ImportFileError, match="no 'store' column"):
        imports.PosCsv(path)
    run(session_factory, clock, path, store="TO-CENTRO")
    shutil.copy(FIXTURE, tmp_path / "brera.csv")
    run(session_factory, clock, tmp_path / "brera.csv", store="TO-CENTRO")

    codes = {
        receipt: code
        for receipt, code in db.execute(
            select(Order.external_id, Store.code).join(Store, Store.id == Order.store_id)
        )
    }
    assert set(codes.values()) == {"TO-CENTRO"} and len(codes) == 4


def test_an_italian_export_with_semicolons_decimal_commas_and_local_times(
    shop: None,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    db: Session,
    tmp_path: Path,
) -> None:
    path = tmp_path / "scontrini.csv"
    path.write_bytes(
        (
            "\ufeffreceipt_id;sold_at;store;sku;quantity;unit_price;customer_phone\n"
            "S-1;21/11/2026 11:02;MI-BRERA;BIKE-HELM-M-BLU;1;89,90;347 123 4567\n"
            "S-1;21/11/2026 11:02;MI-BRERA;BIKE-LIGHT-USB;2;1.040,00;347 123 4567\n"
        ).encode()
    )

    report, bad = run(session_factory, clock, path)

    assert (report.created, bad) == (1, [])
    sale = order(db, "S-1")
    assert sale.total == Decimal("2169.90")
    assert sale.placed_at.isoformat() == "2026-11-21T10:02:00+00:00"  # 11:02 in Rome
    assert customer_id(db, "phone", "+393471234567")


def test_an_unknown_column_refuses_the_whole_file(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER.replace("customer_email", "customer_mail") + "\n")
    with pytest.raises(ImportFileError, match="unknown column 'customer_mail'"):
        imports.PosCsv(path)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("89.90", "89.90"),
        ("89,90", "89.90"),
        (" 1.234,50 ", "1234.50"),
        ("1,234.50", "1234.50"),
        ("0", "0"),
        ("7", "7"),
    ],
)
def test_prices_are_read_as_spreadsheets_write_them(text: str, value: str) -> None:
    assert parse_decimal(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "89.999", "€89", "1e3", "NaN"])
def test_prices_that_are_not_amounts_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_decimal(text)


class LatePipe:
    """The reading process's end of the pipe the receipts' last lines arrive on (`ends`),
    as if they arrived after `polls` looks at it (None: only once the file is read)."""

    def __init__(self, last: dict[str, int], polls: int | None) -> None:
        self.last, self.polls = last, polls

    def poll(self) -> bool:
        if self.polls is None:
            return False
        self.polls -= 1
        return self.polls < 0

    def recv(self) -> dict[str, int]:
        return self.last


@pytest.mark.parametrize("polls", [0, 1, 3, None])
def test_chunks_are_the_same_whenever_the_last_lines_arrive(
    tmp_path: Path, polls: int | None
) -> None:
    """The writer works out the last lines while the reader starts and parses (a till import
    in two processes); whenever they arrive, the reader cuts the same chunks."""
    rows = []
    for n in range(1, 1_800):
        rows.append(f"R-{n},2026-11-19T16:00:00+01:00,MI-BRERA,BIKE-GLOVE-L,1,10.00,,,LC-{n}")
        if n % 7 == 0:  # a second line further on in the file
            rows.append(f"R-{n - 5},2026-11-19T16:00:00+01:00,MI-BRERA,BIKE-GLOVE-L,q,10.00,,,")
    path = write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n")
    file = imports.PosCsv(path)

    def cut(ends: LatePipe | None) -> list[list[tuple[str, tuple[int, ...], int]]]:
        chunks = list(
            imports.read_receipts(file, region="IT", tz=ROME, batch_size=100, ends=ends)  # type: ignore[arg-type]
        )
        assert sum(c.rows for c in chunks) == len(rows)
        return [[(r.receipt_id, r.line_numbers, len(r.bad)) for r in c.receipts] for c in chunks]

    assert cut(LatePipe(imports.last_lines(file), polls)) == cut(None)
