"""A real Phygital server for the browser: `phygital demo`, then `phygital serve` on a free port.

Shared by the e2e fixtures and `docs/screenshot.py`. The server runs the installed console
script in a child process, exactly as an operator would, with a clean `PHYGITAL_*` environment
and a scratch working directory (so a developer's `.env` cannot leak in).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

CHROMIUM = Path("/usr/bin/chromium")
# The machine has no internet: without these Chromium stalls on background network calls.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

OWNER_EMAIL = "titolare@velo.example"
OWNER_NAME = "Alessandra Conti"
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class LiveServer:
    url: str
    owner_email: str
    owner_name: str
    password: str
    database_url: str = ""
    workdir: Path | None = None  # the scratch directory the server runs in (no stray `.env`)


def phygital_command() -> list[str]:
    """The installed `phygital` script next to this interpreter (avoids a pyenv shim)."""
    script = Path(sys.executable).with_name("phygital")
    if script.exists():
        return [str(script)]
    found = shutil.which("phygital")
    if found is None:
        raise RuntimeError("the `phygital` command is not installed (pip install -e .)")
    return [found]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHYGITAL_")}
    env["PHYGITAL_DATABASE_URL"] = database_url
    env["PHYGITAL_SECRET_KEY"] = secrets.token_urlsafe(32)  # 43 characters
    return env


@contextmanager
def running_server(database_url: str, workdir: Path) -> Iterator[LiveServer]:
    """Fill the (empty) database with the demo company, serve it, and stop the server after."""
    env = server_env(database_url)
    password = secrets.token_urlsafe(12)
    demo = subprocess.run(
        [*phygital_command(), "demo", "--password", password],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if demo.returncode != 0:
        raise RuntimeError(f"`phygital demo` failed ({demo.returncode}): {demo.stderr.strip()}")

    with serving(env, workdir) as url:
        yield LiveServer(
            url=url,
            owner_email=OWNER_EMAIL,
            owner_name=OWNER_NAME,
            password=password,
            database_url=database_url,
            workdir=workdir,
        )


@contextmanager
def serving(env: dict[str, str], workdir: Path) -> Iterator[str]:
    """`phygital serve` on a free port until the block ends; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / f"serve-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*phygital_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(url, process, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_cli(server: LiveServer, *args: str) -> str:
    """Run `phygital ARGS` against the server's database, as its operator would; its output."""
    done = subprocess.run(
        [*phygital_command(), *args],
        env=server_env(server.database_url),
        cwd=server.workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"`phygital {' '.join(args)}` failed: {done.stderr.strip()}")
    return done.stdout.strip()


def create_token(server: LiveServer, name: str, role: str = "admin") -> str:
    """A REST API token for the tests, made with `phygital token create`."""
    return run_cli(server, "token", "create", name, "--role", role).splitlines()[-1]


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"`phygital serve` exited with {process.returncode} before answering /health:\n"
                + log_path.read_text()
            )
        try:
            response = httpx.get(f"{url}/health", timeout=2)
            if response.status_code == 200:
                return
            last_error = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.TransportError as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.1)
    raise RuntimeError(
        f"`phygital serve` did not answer 200 on {url}/health within {START_TIMEOUT:.0f} s "
        f"(last: {last_error}); its output:\n" + log_path.read_text()
    )
