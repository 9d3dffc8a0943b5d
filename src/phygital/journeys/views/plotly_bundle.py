"""Plotly's JavaScript, served from the installed Python package (no CDN: the app must work with
no internet), compressed once and cached by browsers for a year."""

from __future__ import annotations

import gzip
import importlib.metadata
import importlib.util
from functools import lru_cache
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response

from phygital.core.errors import NotFound
from phygital.journeys.views.common import router


@lru_cache(maxsize=1)
def plotly_version() -> str:
    try:
        return importlib.metadata.version("plotly")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def _plotly_path() -> Path | None:
    # find_spec locates the package without importing it (plotly's import is slow).
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


@lru_cache(maxsize=1)
def _plotly_bytes() -> tuple[bytes, bytes]:
    """The bundle and its gzip (4.8 MB become 1.4 MB), compressed once per process."""
    path = _plotly_path()
    if path is None:
        raise NotFound("plotly is not installed")
    body = path.read_bytes()
    return body, gzip.compress(body, compresslevel=6, mtime=0)


@router.get("/static/vendor/plotly.min.js")
def plotly_js(request: Request) -> Response:
    """Plotly's JavaScript bundle from the installed `plotly` package. Pages ask for it with
    `?v=<version>`, so it can be cached for a year: an upgrade changes the address."""
    body, compressed = _plotly_bytes()
    etag = f'"plotly-{plotly_version()}"'
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable",
        "ETag": etag,
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        body = compressed
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)
