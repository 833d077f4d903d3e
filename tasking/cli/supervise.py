"""What `tasking run` keeps alive beside honcho: the embedded Redis, in the foreground.

The embedded Redis runs as a child of `tasking run` (same binary, flags and data
folder as tasking.broker's daemonized one, but not daemonized), so Ctrl-C stops
it; a watcher thread starts it again if it dies (whatever starts the embedded
Redis supervises it). Also here: the console every thread writes through, the
port check, and the sweep for any process still carrying a run's mark.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

import click
import redis

from config.settings import Settings
from tasking.broker import BrokerUnavailable, broker_problem, redis_server_binary

# Every process `tasking run` starts carries this variable, so a last sweep can find strays.
RUN_MARK = "TASKING_RUN_MARK"
REDIS_START_S = 30.0  # a long append-only file takes a while to load
REDIS_STOP_S = 15.0
SUPERVISE_EVERY_S = 0.5


class Console:
    """The terminal and `logs/run.log`, one whole line at a time from any thread."""

    def __init__(self, log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log: IO[str] = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close)
        self.lock = threading.Lock()
        self.terminal = True

    def say(self, text: str) -> None:
        """Write `text` (one or more lines) to the terminal and the log."""
        with self.lock:
            for line in text.splitlines() or [""]:
                self.log.write(line + "\n")
                if self.terminal:
                    try:
                        click.echo(line)
                    except OSError:  # the terminal went away: the log still gets every line
                        self.terminal = False
            self.log.flush()

    def close(self) -> None:
        """Close the log file."""
        self.log.close()


def port_problem(port: int) -> str | None:
    """Why 127.0.0.1:`port` cannot be listened on, or None when it is free."""
    if not 0 < port < 65536:
        return "is not a port number (1 to 65535)"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn and Redis do
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            return f"is in use ({exc.strerror or exc}): stop what uses it, or choose another"
    return None


class EmbeddedRedis:
    """The embedded Redis as a foreground child: started, watched, started again, stopped."""

    def __init__(self, settings: Settings, console: Console) -> None:
        self.port = settings.embedded_redis_port
        self.data = settings.instance_path / "redis"
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.console = console
        self.proc: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def command(self) -> list[str]:
        """The flags of tasking.broker.ensure_embedded_redis, in the foreground."""
        return [
            str(redis_server_binary()), "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.data), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "", "--daemonize", "no", "--logfile", str(self.data / "redis.log"),
            "--protected-mode", "yes",
        ]  # fmt: skip

    def claim_port(self) -> None:
        """Stop this instance's Redis left in the background; refuse a port used by others."""
        if broker_problem(self.url, 1.0) is None:
            try:
                with redis.Redis.from_url(self.url, socket_timeout=5) as client:
                    directory = Path(str(client.config_get("dir").get("dir", "")))
                    if directory.resolve() != self.data.resolve():
                        raise click.ClickException(
                            f"TASKING_REDIS_PORT: port {self.port} is used by another Redis"
                            f" (data in {directory}); set TASKING_REDIS_PORT or REDIS_URL"
                        )
                    self.console.say(
                        "tasking run: this instance's Redis was running in the background:"
                        " stopping it, to run it under this command"
                    )
                    with contextlib.suppress(redis.ConnectionError):
                        client.shutdown()
            except redis.RedisError as exc:
                raise click.ClickException(
                    f"TASKING_REDIS_PORT: port {self.port} is used by a Redis that is not"
                    f" this instance's ({exc}); set TASKING_REDIS_PORT or REDIS_URL"
                ) from None
            deadline = time.monotonic() + REDIS_STOP_S
            while port_problem(self.port) and time.monotonic() < deadline:
                time.sleep(0.1)
        if problem := port_problem(self.port):
            raise click.ClickException(
                f"TASKING_REDIS_PORT: port {self.port} on 127.0.0.1 {problem}"
            )

    def start(self, env: dict[str, str]) -> None:
        """Start the server and wait until it answers PING (BrokerUnavailable if it does not)."""
        self.data.mkdir(parents=True, exist_ok=True)
        with open(self.data / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                start_new_session=True,  # the terminal's Ctrl-C is ours to pass on, in order
            )  # fmt: skip
        deadline = time.monotonic() + REDIS_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if broker_problem(self.url, 0.5) is None:
                return
            time.sleep(0.05)
        if self.proc.poll() is None:  # running but never answering: not left behind
            self.proc.kill()
            self.proc.wait()
        raise BrokerUnavailable(
            f"the embedded Redis did not start on port {self.port}; see {self.data / 'redis.log'}"
        )

    def supervise(self, env: dict[str, str]) -> None:
        """Start the server again whenever it dies, until stop() (run in a thread)."""
        while not self.stopping.wait(SUPERVISE_EVERY_S):
            with self.lock:
                if self.stopping.is_set() or self.proc is None or self.proc.poll() is None:
                    continue
                code = self.proc.returncode
                how = (
                    f"was killed ({signal.Signals(-code).name})" if code < 0 else f"exited ({code})"
                )
                self.console.say(f"tasking run: the embedded Redis {how}: starting it again")
                try:
                    self.start(env)
                except (BrokerUnavailable, OSError) as exc:
                    self.console.say(f"tasking run: {exc}; trying again")
                    continue
                self.console.say(f"tasking run: the embedded Redis answers again on {self.port}")

    def stop(self) -> None:
        """SIGTERM (Redis writes its append-only file and exits), then wait; SIGKILL if stuck."""
        self.stopping.set()
        with self.lock:
            proc = self.proc
            if proc is None or proc.poll() is not None:
                return
            proc.terminate()
            try:
                proc.wait(REDIS_STOP_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def marked_processes(mark: str) -> list[int]:
    """Processes (other than this one) whose environment carries this run's mark."""
    needle = f"{RUN_MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        if int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found
