"""Commerce imports from CSV: the catalogue, stock counts and till sales (formats in
docs/import.md; `phygital import products|stock|pos FILE.csv [--store CODE]`).

Each import reads its file with `core.csvfile` (encoding, delimiter, header, lines), parses every
row into a value or a `line N: column: reason`, and writes good rows one transaction per batch, so
an interruption loses at most the batch in progress and re-running the command finishes the job:

- products are upserted by sku (a changed row updates its product; order lines that arrived
  before their product are known from then on);
- stock rows set the units on hand of a product in a store (a count), keeping what pickups
  reserved;
- till sales become one order per receipt through `orders.save_prepared`, the one way orders are
  made (identity resolution, unknown skus flagged, stock off the shelf), idempotent on the
  receipt id. A receipt with a bad row is skipped whole, so there are never half receipts; the
  rows of a receipt need not be consecutive, and a receipt is never cut between two batches.

Bad rows of a batch are reported in line order when the batch is written. One module per
subject: `catalogue` (products, stock), `pos` (till sales), `common`.
"""

from phygital.commerce.imports.catalogue import (
    ProductRow,
    ProductsCsv,
    StockCsv,
    StockRow,
    import_products,
    import_stock,
    parse_product,
    parse_stock,
    run_products_import,
    run_stock_import,
)
from phygital.commerce.imports.common import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_POS_BATCH_SIZE,
    POS_COLUMNS,
    PRODUCT_COLUMNS,
    STOCK_COLUMNS,
    ImportReport,
)
from phygital.commerce.imports.pos import (
    PARALLEL_MIN_ROWS,
    Chunk,
    PosCsv,
    PosLine,
    PosParser,
    PosRowError,
    ReadReceipt,
    Receipt,
    import_receipts,
    last_lines,
    read_receipts,
    run_pos_import,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_POS_BATCH_SIZE",
    "PARALLEL_MIN_ROWS",
    "POS_COLUMNS",
    "PRODUCT_COLUMNS",
    "STOCK_COLUMNS",
    "Chunk",
    "ImportReport",
    "PosCsv",
    "PosLine",
    "PosParser",
    "PosRowError",
    "ProductRow",
    "ProductsCsv",
    "ReadReceipt",
    "Receipt",
    "StockCsv",
    "StockRow",
    "import_products",
    "import_receipts",
    "import_stock",
    "last_lines",
    "parse_product",
    "parse_stock",
    "read_receipts",
    "run_pos_import",
    "run_products_import",
    "run_stock_import",
]
