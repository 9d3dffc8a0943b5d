"""Catalogue and stock imports: upsert by sku, counts per store, bad rows by line, re-runs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from phygital.commerce import imports, service
from phygital.commerce.models import OrderLine, OrderOrigin, Product, Stock, Store
from phygital.commerce.orders import save_orders
from phygital.commerce.schemas import OrderCreate, ProductCreate, StoreCreate
from phygital.core.clock import FrozenClock
from phygital.core.csvfile import ImportFileError

PRODUCTS = "sku,name,price,currency,category,active\n"


def write(tmp_path: Path, text: str, name: str = "file.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def import_products(
    factory: sessionmaker[Session], clock: FrozenClock, path: Path, batch_size: int = 1000
) -> tuple[imports.ImportReport, list[tuple[int, str]]]:
    bad: list[tuple[int, str]] = []
    report = imports.run_products_import(
        factory,
        clock=clock,
        file=imports.ProductsCsv(path),
        batch_size=batch_size,
        on_bad_row=lambda line, reason: bad.append((line, reason)),
    )
    return report, bad


def import_stock(
    factory: sessionmaker[Session], clock: FrozenClock, path: Path, store: str | None = None
) -> tuple[imports.ImportReport, list[tuple[int, str]]]:
    bad: list[tuple[int, str]] = []
    report = imports.run_stock_import(
        factory,
        clock=clock,
        file=imports.StockCsv(path, store=store),
        on_bad_row=lambda line, reason: bad.append((line, reason)),
    )
    return report, bad


def catalogue(db: Session) -> dict[str, tuple[str, Decimal, str, str | None, bool]]:
    result = {
        p.sku: (p.name, p.price, p.currency, p.category, p.active)
        for p in db.scalars(select(Product))
    }
    db.rollback()
    return result


def stock(db: Session) -> dict[tuple[str, str], tuple[int, int]]:
    rows = db.execute(
        select(Store.code, Stock.sku, Stock.on_hand, Stock.reserved).join(
            Store, Store.id == Stock.store_id
        )
    )
    result = {(code, sku): (on_hand, reserved) for code, sku, on_hand, reserved in rows}
    db.rollback()
    return result


# -- products -----------------------------------------------------------------------------------


def test_products_are_created_and_re_importing_changes_nothing(
    session_factory: sessionmaker[Session], clock: FrozenClock, db: Session, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        PRODUCTS + "BIKE-HELM-M-BLU,Casco urbano blu M,89.90,EUR,caschi,yes\n"
        'BIKE-LIGHT-USB,Luce  USB ricaricabile,"40,00",,luci,\n'
        "OLD-BELL,Campanello,5,eur,,no\n",
    )

    report, bad = import_products(session_factory, clock, path)

    assert bad == []
    assert (report.rows, report.created, report.updated, report.unchanged) == (3, 3, 0, 0)
    assert catalogue(db) == {
        "BIKE-HELM-M-BLU": ("Casco urbano blu M", Decimal("89.90"), "EUR", "caschi", True),
        "BIKE-LIGHT-USB": ("Luce USB ricaricabile", Decimal("40.00"), "EUR", "luci", True),
        "OLD-BELL": ("Campanello", Decimal("5.00"), "EUR", None, False),
    }

    again, bad = import_products(session_factory, clock, path)

    assert (again.created, again.updated, again.unchanged, bad) == (0, 0, 3, [])


def test_a_changed_row_updates_its_product_and_absent_columns_keep_their_value(
    session_factory: sessionmaker[Session], clock: FrozenClock, db: Session, tmp_path: Path
) -> None:
    import_products(
        session_factory, clock, write(tmp_path, PRODUCTS + "SKU-1,Casco,89.90,EUR,caschi,yes\n")
    )
    path = write(tmp_path, "sku;name;price\nSKU-1;Casco blu;79,90\nSKU-2;Guanti;24.50\n")

    report, bad = import_products(session_factory, clock, path)

    assert (report.created, report.updated, bad) == (1, 1, [])
    assert catalogue(db) == {
        "SKU-1": ("Casco blu", Decimal("79.90"), "EUR", "caschi", True),
        "SKU-2": ("Guanti", Decimal("24.50"), "EUR", None, True),
    }


def test_a_new_product_makes_earlier_order_lines_known(
    session_factory: sessionmaker[Session], clock: FrozenClock, db: Session, tmp_path: Path
) -> None:
    service.create_store(db, data=StoreCreate(code="MI-BRERA", name="Brera"))
    save_orders(
        db,
        clock=clock,
        region="IT",
        origin=OrderOrigin.POS,
        items=[
            OrderCreate.model_validate(
                {
                    "external_id": "R-1",
                    "channel": "store",
                    "store": "MI-BRERA",
                    "placed_at": "2026-11-19T16:00:00+01:00",
                    "lines": [{"sku": "NEW-1", "quantity": 1, "unit_price": "3.00"}],
                }
            )
        ],
    )
    db.commit()
    assert db.scalar(select(OrderLine.known)) is False
    db.rollback()

    import_products(session_factory, clock, write(tmp_path, PRODUCTS + "NEW-1,Novità,3,,,\n"))

    assert db.scalar(select(OrderLine.known)) is True


def test_bad_product_rows_are_reported_by_line_and_column(
    session_factory: sessionmaker[Session], clock: FrozenClock, db: Session, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        PRODUCTS + "SKU-1,Casco,89.90,EUR,caschi,yes\n"
        "SKU 2,Guanti,abc,EURO,,forse\n"
        ",,,,,\n"  # blank: skipped
        "SKU-3,,-1,,,\n"
        "SKU-1,Casco again,89.90,,,\n"
        "SKU-4,Luce,4.999,,,,extra\n",
    )

    report, bad = import_products(session_factory, clock, path, batch_size=2)

    assert bad == [
        (
            3,
            "sku: 'SKU 2' is not an sku (no spaces or '/', at most 100 characters); "
            "price: 'abc' is not a number (write 89.90 or 89,90); "
            "currency: 'EURO' is not a currency code like EUR; active: 'forse' is not yes or no",
        ),
        (5, "name: missing; price: '-1' is negative"),
        (6, "sku: 'SKU-1' is already on line 2"),
        (7, "7 values but the header has 6 columns; price: '4.999' has more than 2 decimals"),
    ]
    assert (report.rows, report.created, report.bad) == (5, 1, 4)
    assert list(catalogue(db)) == ["SKU-1"]


def test_a_catalogue_without_a_price_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no 'price' column"):
        imports.ProductsCsv(write(tmp_path, "sku,name\nSKU-1,Casco\n"))


# -- stock --------------------------------------------------------------------------------------


@pytest.fixture
def shop(db: Session) -> None:
    for code in ("MI-BRERA", "TO-CENTRO"):
        service.create_store(db, data=StoreCreate(code=code, name=code))
    for sku in ("SKU-1", "SKU-2"):
        service.create_product(db, data=ProductCreate(sku=sku, name=sku, price=Decimal(1)))
    db.commit()


def test_stock_counts_set_units_on_hand_and_keep_reservations(
    shop: None,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    db: Session,
    tmp_path: Path,
) -> None:
    brera = service.get_store(db, code="MI-BRERA")
    service.adjust_stock(db, {(brera.id, "SKU-1"): (5, 2)})  # 5 on hand, 2 promised to pickups
    db.commit()
    path = write(
        tmp_path, "store,sku,quantity\nMI-BRERA,SKU-1,12\nMI-BRERA,SKU-2,0\nTO-CENTRO,SKU-1,3\n"
    )

    report, bad = import_stock(session_factory, clock, path)

    assert bad == []
    assert (report.rows, report.created, report.updated) == (3, 2, 1)
    assert stock(db) == {
        ("MI-BRERA", "SKU-1"): (12, 2),
        ("MI-BRERA", "SKU-2"): (0, 0),
        ("TO-CENTRO", "SKU-1"): (3, 0),
    }

    again, bad = import_stock(session_factory, clock, path)

    assert (again.created, again.updated, again.unchanged, bad) == (0, 0, 3, [])


def test_store_option_names_the_store_of_every_row(
    shop: None,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    db: Session,
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "sku,quantity\nSKU-1,7\n")
    with pytest.raises(ImportFileError, match="no 'store' column"):
        imports.StockCsv(path)

    report, bad = import_stock(session_factory, clock, path, store="TO-CENTRO")

    assert (report.created, bad) == (1, [])
    assert stock(db) == {("TO-CENTRO", "SKU-1"): (7, 0)}


def test_bad_stock_rows_are_reported_by_line(
    shop: None,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    db: Session,
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "store,sku,quantity\n"
        "MI-BRERA,SKU-1,4\n"
        "XX-NOWHERE,SKU-1,4\n"
        "MI-BRERA,SKU-404,4\n"
        "MI-BRERA,SKU-2,-3\n"
        "MI-BRERA,SKU-2,2.5\n"
        "MI-BRERA,SKU-1,9\n"
        ",SKU-2,1\n",
    )

    report, bad = import_stock(session_factory, clock, path)

    assert bad == [
        (3, "store: no store with code 'XX-NOWHERE'"),
        (4, "sku: no product with sku 'SKU-404' (import the catalogue first)"),
        (5, "quantity: -3 is negative (units on hand are a count)"),
        (6, "quantity: '2.5' is not a whole number"),
        (7, "sku: 'SKU-1' in store MI-BRERA is already on line 2"),
        (8, "store: missing (give a store column or --store CODE)"),
    ]
    assert (report.rows, report.created, report.bad) == (7, 1, 6)
    assert stock(db) == {("MI-BRERA", "SKU-1"): (4, 0)}
