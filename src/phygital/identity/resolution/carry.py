"""What a bulk job's batches learn about identity, carried from one transaction to the next.

A till import resolves the same customers batch after batch: each batch loads the clusters of the
people it names (two queries and thousands of rows), applies the rules, writes back, and forgets.
An `IdentityCarry` keeps the batch's in-memory profiles after a successful commit and gives them
to the next batch, which then loads only people it has not met yet, as long as nothing else
changed the database in between: on SQLite, `PRAGMA data_version` on the same connection says
whether any other connection committed since (the import held the write lock during its own
transaction, so the carried state is exactly what is stored). Anything else, a rolled-back batch,
another connection, any rollback in the batch's session before its commit (a savepoint's
included), PostgreSQL (where several writers are normal and no such cheap check exists), or a
carry grown past `MAX_PROFILES`, starts from the database again: the carry can
only make a batch faster, never change its result.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from phygital.identity.resolution.loading import _BatchState

# Profiles kept at most (~1 KB each); past it the next batch starts afresh.
MAX_PROFILES = 250_000


class IdentityCarry:
    """Pass one to every `resolve_many` of a bulk job (one job, one carry), whose sessions run
    on one connection it owns (`db.one_connection`): SQLite does not count commits made on the
    same connection in `data_version`, so nothing else may use it meanwhile."""

    def __init__(self) -> None:
        self._held: _BatchState | None = None
        self._committed = False
        self._connection: Any = None
        self._version: int | None = None

    def take(self, session: Session, *, limits: dict[str, int]) -> _BatchState | None:
        """The state the previous batch left, if it still is what the database holds."""
        held, self._held = self._held, None
        if session.get_bind().dialect.name != "sqlite":
            return None
        connection = session.connection().connection.dbapi_connection
        version = session.execute(text("PRAGMA data_version")).scalar_one()
        valid = (
            held is not None
            and self._committed
            and connection is self._connection
            and version == self._version
            and held.limits == limits
        )
        self._connection, self._version = connection, version
        if not valid:
            return None
        assert held is not None
        held.session = session
        return held

    def hold(self, session: Session, state: _BatchState) -> None:
        """Keep `state` (written back, not yet committed) for the next batch, once `session`
        commits."""
        if self._version is None or len(state.profiles) > MAX_PROFILES:
            return
        self._held = state
        self._committed = False
        event.listen(session, "after_commit", self._on_commit, once=True)
        # Any rollback before that commit, a savepoint's included, may have undone what the
        # state says is stored (or may precede a commit of another transaction).
        event.listen(session, "after_soft_rollback", self._on_rollback)

    def _on_commit(self, session: Session) -> None:
        if self._held is not None:
            self._committed = True
        event.remove(session, "after_soft_rollback", self._on_rollback)

    def _on_rollback(self, session: Session, previous_transaction: Any) -> None:
        if not self._committed:
            self._held = None
