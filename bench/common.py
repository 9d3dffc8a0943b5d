"""Shared plumbing for the benchmarks: a fresh database, a running server, percentiles."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_sqlite(directory: Path | None = None) -> str:
    folder = directory or Path(tempfile.mkdtemp(prefix="phygital-bench-"))
    return f"sqlite:///{folder / 'bench.db'}"


@contextmanager
def running_server(database_url: str) -> Iterator[str]:
    """`phygital serve` as a subprocess on a free port; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "PHYGITAL_DATABASE_URL": database_url,
        "PHYGITAL_SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
    }
    proc = subprocess.Popen(
        ["phygital", "serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]
