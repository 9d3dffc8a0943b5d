"""The `phygital` command: serve, worker, demo, source, token, user, import.

Secrets are printed as one line on stdout and nothing else, so scripts can capture them; every
failure exits non-zero with a one-line reason on stderr.

The package, by subject: `common` (one-line failures, opening the database), `commands` (the
Typer app: serve, worker, demo, source, token, user), `imports` (the CSV imports) and `entry`
(`main`, the console script `phygital`).
"""

from phygital.cli.commands import (
    RoleChoice,
    SourceChannel,
    app,
    demo,
    log,
    root,
    serve,
    source_app,
    source_create,
    token_app,
    token_create,
    user_app,
    user_create,
    worker_command,
)
from phygital.cli.common import CliError, fail, open_database, unit_of_work
from phygital.cli.entry import main
from phygital.cli.imports import (
    BatchSize,
    ImportFile,
    StoreOption,
    import_app,
    import_customers,
    import_pos,
    import_products,
    import_stock,
)

__all__ = [
    "BatchSize",
    "CliError",
    "ImportFile",
    "RoleChoice",
    "SourceChannel",
    "StoreOption",
    "app",
    "demo",
    "fail",
    "import_app",
    "import_customers",
    "import_pos",
    "import_products",
    "import_stock",
    "log",
    "main",
    "open_database",
    "root",
    "serve",
    "source_app",
    "source_create",
    "token_app",
    "token_create",
    "unit_of_work",
    "user_app",
    "user_create",
    "worker_command",
]
