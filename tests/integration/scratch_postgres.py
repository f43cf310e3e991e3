"""A throw-away PostgreSQL cluster for tests that stop or crash the database: never the machine's shared one.

`initdb` into a temporary directory, started on a free port of 127.0.0.1 with its socket in that directory; the
context manager always stops it and deletes its files. fsync stays on: a restart must find what was committed.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.integration.server import free_port


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian layout), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda path: int(Path(path).parent.parent.name))
    return Path(found[-1]).parent if found else None


def _as_postgres(argv: list[str], **kwargs) -> subprocess.CompletedProcess:  # noqa: ANN003
    # The server refuses to run as root; the Debian packages create the `postgres` user.
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


@dataclass
class ScratchCluster:
    bin_dir: Path
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        _as_postgres([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "60", *args], timeout=90)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c max_connections=60"
        self._pg_ctl("-o", options, "-l", str(self.data_dir / "server.log"), "start")

    def crash_and_restart(self) -> None:
        """Stops the server the way a crash does (no checkpoint, WAL replay on start), then starts it again."""
        self._pg_ctl("-m", "immediate", "stop")
        self.start()

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "stop")


@contextmanager
def scratch_cluster() -> Iterator[ScratchCluster]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    root = Path(tempfile.mkdtemp(prefix="unichannel-pg-"))
    data_dir = root / "data"
    data_dir.mkdir()
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (root, data_dir):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    cluster = ScratchCluster(bin_dir, data_dir, free_port())
    try:
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=trust",
                      "--no-instructions"], timeout=120)
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        except subprocess.CalledProcessError:
            pass  # never started, or already down
        shutil.rmtree(root, ignore_errors=True)
