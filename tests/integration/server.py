"""Runs the real server (uvicorn, several worker processes) on 127.0.0.1 for tests that need it; always stops it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


last_pid: int | None = None  # the server process most recently started (tests that signal its workers read it)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(database_url: str, *, workers: int = 2, extra_env: dict[str, str] | None = None,
                   startup_seconds: float = 30.0) -> Iterator[str]:
    """Starts `uvicorn unichannel.asgi:app` with `workers` processes and yields its base URL."""
    port = free_port()
    env = {**os.environ, "UNICHANNEL_DATABASE_URL": database_url, **(extra_env or {})}
    # The server's output goes to a file, never to a pipe nobody reads: a full pipe would block a worker mid-request.
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "unichannel.asgi:app", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log", "--http", "unichannel.serving:Protocol"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    global last_pid
    last_pid = process.pid
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                output = log.read().decode(errors="replace")
                raise RuntimeError(f"server did not start:\n{output[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
