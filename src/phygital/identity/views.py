"""(Filled in by the pages of this capability.)"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
