"""Writing a batch back: new profiles, identifiers, changed profiles (counters as increments),
merges and conflicts, each kind in one bulk statement; and the search text stored on a profile."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, update

from phygital.db import execute_many
from phygital.identity.identifiers import EMAIL, LOYALTY_CARD, PHONE, USER_ID, Ident
from phygital.identity.models import IdentityConflict, MergeRecord, Profile
from phygital.identity.resolution.loading import _I_TABLE, _P_TABLE, _BatchState
from phygital.identity.resolution.observations import NAME_TRAITS


class _BatchWriting(_BatchState):
    """How a `ResolutionBatch` is written back."""

    # -- writing back ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write new profiles, identifiers, changed profiles, merges and conflicts in bulk."""
        now = self.clock.now()
        new_rows = []
        changed = []
        for p in self.touched.values():
            if p.new:
                new_rows.append(
                    {
                        "id": p.id,
                        "created_at": p.created_at,
                        # Created and merged away in this same batch: merged now.
                        "merged_at": p.merged_at,
                        "orders_count": p.orders_added,
                        "revenue": p.revenue_added,
                        "canonical_id": p.canonical_id,
                        "merged_into_id": p.merged_into_id,
                        "traits": p.traits,
                        "trait_times": p.trait_times,
                        "search_text": search_text(p.traits, p.idents),
                        "first_seen_at": p.first_seen_at,
                        "last_seen_at": p.last_seen_at,
                        "channels": p.channels,
                        "events_count": p.events_count,
                        "updated_at": now,
                    }
                )
            elif p.changed:
                row: dict[str, Any] = {"b_id": p.id, "updated_at": now}
                for column in p.changed:
                    row[column] = (
                        search_text(p.traits, p.idents)
                        if column == "search_text"
                        else getattr(p, column)
                    )
                if p.orders_added:
                    row["d_orders"] = p.orders_added
                    row["d_revenue"] = p.revenue_added
                changed.append(row)
            else:
                continue
            p.new = False
            p.changed = set()
            p.orders_added = 0
            p.revenue_added = Decimal(0)
        self.touched = {}
        session = self.session
        if new_rows:
            execute_many(session, insert(_P_TABLE), new_rows, cache_key="profiles.insert")  # type: ignore[arg-type]
        if self.new_identifiers:
            execute_many(
                session,
                insert(_I_TABLE),  # type: ignore[arg-type]
                self.new_identifiers,
                cache_key="identifiers.insert",
            )
            self.new_identifiers = []
        if changed:
            # Group by column set: executemany needs the same keys in every row.
            by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for row in changed:
                by_keys.setdefault(tuple(sorted(row)), []).append(row)
            table = Profile.__table__
            for keys, rows in by_keys.items():
                values: dict[str, Any] = {
                    k: bindparam(k) for k in keys if k not in ("b_id", "d_orders", "d_revenue")
                }
                if "d_orders" in keys:
                    values["orders_count"] = table.c.orders_count + bindparam("d_orders")
                    values["revenue"] = table.c.revenue + bindparam(
                        "d_revenue", type_=table.c.revenue.type
                    )
                stmt = (
                    update(table)  # type: ignore[arg-type]
                    .where(table.c.id == bindparam("b_id"))
                    .values(values)
                )
                execute_many(session, stmt, rows, cache_key="profiles.update")
        if self.merges:
            execute_many(session, insert(MergeRecord.__table__), self.merges)  # type: ignore[arg-type]
            self.merges = []
        if self.conflicts:
            execute_many(session, insert(IdentityConflict.__table__), self.conflicts)  # type: ignore[arg-type]
            self.conflicts = []


def search_text(traits: dict[str, Any], idents: list[Ident]) -> str:
    parts = [str(traits[k]) for k in NAME_TRAITS if traits.get(k)]
    parts += [i.value for i in idents if i.kind in (EMAIL, PHONE, LOYALTY_CARD, USER_ID)]
    return " ".join(parts).lower()[:2000]
