"""`phygital import products|stock|pos FILE.csv [--store CODE]` end to end: progress, bad rows
as `line N: reason` on stderr, the summary line, exit codes, re-runs."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from phygital.commerce import service
from phygital.commerce.models import Order, Product, Stock
from phygital.commerce.schemas import StoreCreate
from tests.cli.conftest import Cli, Result, one_error_line

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pos" / "sales.csv"
CATALOGUE = (
    "sku,name,price,currency,category,active\n"
    "BIKE-HELM-M-BLU,Casco urbano blu M,89.90,EUR,caschi,yes\n"
    "BIKE-LIGHT-USB,Luce USB ricaricabile,40.00,EUR,luci,yes\n"
    "BIKE-GLOVE-L,Guanti L,24.50,EUR,accessori,yes\n"
    'BOTTLE-TERM-750,Borraccia termica 750 ml,"27,00",EUR,accessori,yes\n'
)


def write(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def summary(result: Result) -> str:
    return result.stderr.strip().splitlines()[-1]


def scalar(db: Session, stmt: object) -> object:
    value = db.scalar(stmt)  # type: ignore[call-overload]
    db.rollback()  # an open read transaction would block the next command on SQLite
    return value


@pytest.fixture
def stores(db: Session) -> None:
    for code, name in (("MI-BRERA", "Milano Brera"), ("TO-CENTRO", "Torino Centro")):
        service.create_store(db, data=StoreCreate(code=code, name=name))
    db.commit()


def test_catalogue_stock_and_till_sales_import_end_to_end(
    cli: Cli, db: Session, tmp_path: Path, stores: None
) -> None:
    products = cli("import", "products", str(write(tmp_path, CATALOGUE, "catalogo.csv")))
    assert products.code == 0, products.stderr
    assert products.stdout == ""
    assert summary(products).startswith(
        "catalogo.csv: 4 rows read: 4 new products, 0 updated, 0 unchanged, 0 bad ("
    )
    assert scalar(db, select(Product.price).where(Product.sku == "BOTTLE-TERM-750")) == Decimal(
        "27.00"
    )

    counts = write(tmp_path, "sku,quantity\nBOTTLE-TERM-750,10\nBIKE-GLOVE-L,3\n", "conta.csv")
    stock = cli("import", "stock", str(counts), "--store", "MI-BRERA")
    assert stock.code == 0, stock.stderr
    assert "2 new stock rows" in summary(stock)

    sales = cli("import", "pos", str(FIXTURE))
    assert sales.code == 0, sales.stderr
    assert sales.stdout == ""
    line = summary(sales)
    assert line.startswith(
        "sales.csv: 4 rows read: 3 receipts imported (2 with a customer, 1 anonymous), "
        "0 already imported, 0 bad rows ("
    )
    assert line.endswith("rows/s)")
    assert scalar(db, select(func.count()).select_from(Order)) == 3
    assert scalar(db, select(Stock.on_hand).where(Stock.sku == "BOTTLE-TERM-750")) == 8

    again = cli("import", "pos", str(FIXTURE))
    assert again.code == 0, again.stderr
    assert "0 receipts imported (0 with a customer, 0 anonymous), 3 already imported" in (
        summary(again)
    )
    assert scalar(db, select(func.count()).select_from(Order)) == 3
    assert scalar(db, select(Stock.on_hand).where(Stock.sku == "BOTTLE-TERM-750")) == 8


def test_bad_till_rows_are_reported_by_line_and_exit_1(
    cli: Cli, db: Session, tmp_path: Path, stores: None
) -> None:
    text = FIXTURE.read_text(encoding="utf-8").replace(
        "BOTTLE-TERM-750,2,27.00", "BOTTLE-TERM-750,-2,27.00"
    )
    result = cli("import", "pos", str(write(tmp_path, text, "resi.csv")))

    assert result.code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("line 4: quantity: -2 is negative; returns are not imported")
    assert "2 receipts imported" in lines[-1] and "1 bad row (" in lines[-1]
    assert scalar(db, select(func.count()).select_from(Order)) == 2


def test_the_store_option_must_name_a_store(cli: Cli, tmp_path: Path, stores: None) -> None:
    shutil.copy(FIXTURE, tmp_path / "sales.csv")
    result = cli("import", "pos", str(tmp_path / "sales.csv"), "--store", "XX-NOWHERE")
    assert one_error_line(result) == "phygital: error: --store: no store with code 'XX-NOWHERE'"


def test_a_file_with_an_unknown_column_is_refused_with_one_line(
    cli: Cli, tmp_path: Path, stores: None
) -> None:
    path = write(tmp_path, "store,sku,qty\nMI-BRERA,SKU-1,1\n", "conta.csv")
    line = one_error_line(cli("import", "stock", str(path)))
    assert "unknown column 'qty' in the header" in line


def test_bad_stock_rows_name_their_line(
    cli: Cli, db: Session, tmp_path: Path, stores: None
) -> None:
    cli("import", "products", str(write(tmp_path, CATALOGUE, "catalogo.csv")))
    path = write(
        tmp_path, "store,sku,quantity\nMI-BRERA,NOPE,1\nTO-CENTRO,BIKE-GLOVE-L,4\n", "s.csv"
    )

    result = cli("import", "stock", str(path))

    assert result.code == 1
    assert result.stderr.splitlines()[0] == (
        "line 2: sku: no product with sku 'NOPE' (import the catalogue first)"
    )
    assert "1 new stock row, 0 updated, 0 unchanged, 1 bad" in summary(result)


@pytest.mark.parametrize("kind", ["products", "stock", "pos"])
def test_import_help_documents_the_columns_and_exit_status(cli: Cli, kind: str) -> None:
    result = cli("import", kind, "--help")
    assert result.code == 0
    text = " ".join(result.stdout.split())
    assert "docs/import.md" in text and "Exit status" in text
    assert "sku" in text
