"""Where each domain plugs in its exporter and eraser for GDPR access (Art. 15) and erasure
(Art. 17). Both receive the ids of every profile in the customer's cluster."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

Exporter = Callable[[Session, list[str]], Any]
Eraser = Callable[[Session, list[str]], None]


@dataclass(frozen=True)
class DataHolder:
    name: str
    exporter: Exporter
    eraser: Eraser
    # Erasers run in ascending order: rows that point at profiles go before the profiles.
    order: int = 100


_HOLDERS: dict[str, DataHolder] = {}


def register(name: str, *, exporter: Exporter, eraser: Eraser, order: int = 100) -> None:
    _HOLDERS[name] = DataHolder(name, exporter, eraser, order)


def holders() -> list[DataHolder]:
    return sorted(_HOLDERS.values(), key=lambda h: (h.order, h.name))
