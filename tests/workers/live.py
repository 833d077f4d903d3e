"""Real Celery workers for the live fault tests (docs/reliability.md C2-C5) and the benchmark.

`Worker` runs `python -m celery -A workers worker` as a subprocess in its own
session (so the whole worker, main process and pool children, can be killed
at once), with its log in a file. `celery_client` is a Celery app with the
project's configuration for sending tasks by name. `wait_for`
(tests/support) is the one bounded polling loop; every wait in the live tests
goes through it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from celery import Celery

from config.celery_config import celery_settings
from config.settings import Settings
from tests.support import wait_for as wait_for  # still imported from here by bench/

ROOT = Path(__file__).resolve().parents[2]
QUEUES = "scoring,tasking"


def worker_env(
    *,
    database_url: str,
    redis_url: str,
    instance: Path,
    visibility_timeout: int = 30,
    time_limit: int = 20,
    chunk: int = 10_000,
    **extra: str,
) -> dict[str, str]:
    """The environment of a worker: the database, the broker and the Celery timeouts.

    The soft time limit is the hard one less 5 s, but at least 1 s: keep the hard
    limit well above 6 s, or a slow chunk is cut short by the soft limit.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKING_", "PYTEST"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        TASKING_INSTANCE=str(instance),
        TASKING_VISIBILITY_TIMEOUT=str(visibility_timeout),
        TASKING_TASK_TIME_LIMIT=str(time_limit),
        TASKING_RESCORE_CHUNK=str(chunk),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def celery_client(redis_url: str, *, visibility_timeout: int = 30, time_limit: int = 20) -> Celery:
    """A Celery app with the project's configuration, for send_task (the caller closes it)."""
    client = Celery("tasking-live-client", set_as_current=False)
    settings = Settings(task_time_limit_s=time_limit, visibility_timeout_s=visibility_timeout)
    client.conf.update(celery_settings(settings, redis_url))
    return client


def children_of(pid: int) -> list[int]:
    """Live child processes of `pid`, read from /proc (every thread may fork)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found.update(int(p) for p in (task / "children").read_text().split())
    return sorted(found)


class Worker:
    """One `celery -A workers worker` subprocess consuming the scoring and tasking queues."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        log_dir: Path,
        *,
        concurrency: int = 1,
        app: str = "workers",
        loglevel: str = "INFO",
    ) -> None:
        self.name = name
        self.env = env
        self.log_path = log_dir / f"worker-{name}.log"
        self.concurrency = concurrency
        self.app = app
        self.loglevel = loglevel
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The worker's main process id."""
        if self.proc is None:
            raise RuntimeError(f"worker {self.name} is not started")
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, *, ready_timeout: float = 60) -> Worker:
        """Start the worker and wait until it says it is ready (all pool children forked)."""
        argv = [
            sys.executable, "-m", "celery", "-A", self.app, "worker",
            "-Q", QUEUES, "-n", f"{self.name}@%h", "--pool", "prefork",
            "-c", str(self.concurrency), "--loglevel", self.loglevel,
            "--without-heartbeat", "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() takes the children too
            )
        wait_for(
            lambda: self._ready() or not self.running,
            timeout=ready_timeout,
            what=f"worker {self.name} to be ready",
            details=self.tail,
        )
        if not self.running:
            raise AssertionError(f"worker {self.name} exited at start:\n{self.tail()}")
        return self

    def _ready(self) -> bool:
        return " ready." in self.log() and len(self.children()) >= self.concurrency

    def children(self) -> list[int]:
        """The pool's child processes."""
        return children_of(self.pid) if self.running else []

    def kill_child(self) -> int:
        """SIGKILL one pool child (the worker lives on and forks a new one); its pid."""
        (child, *_) = self.children()
        os.kill(child, signal.SIGKILL)
        return child

    def kill(self) -> None:
        """SIGKILL the whole worker at once: main process and pool children."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self, timeout: float = 20) -> None:
        """Warm shutdown (SIGTERM); SIGKILL the process group if it does not exit in time."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        self.kill()  # pool children left behind, if any

    def log(self) -> str:
        """The whole log so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 60) -> str:
        """The end of the log, for failure messages."""
        text = "\n".join(self.log().splitlines()[-lines:])
        return f"--- {self.log_path.name} (last {lines} lines) ---\n{text}"

    def count(self, pattern: str) -> int:
        """How many log lines match the regular expression."""
        return len(re.findall(pattern, self.log(), flags=re.MULTILINE))


def received(workers: Iterable[Worker], task_id: str) -> int:
    """How many times the workers received the message of task `task_id`."""
    return sum(w.count(rf"Task [\w.]+\[{re.escape(task_id)}\] received") for w in workers)


def all_tails(workers: Iterable[Worker]) -> str:
    """Log tails of every worker, for failure messages."""
    return "\n".join(w.tail() for w in workers)


def send_chunks(client: Celery, chunk_ids: Iterable[int], **options: Any) -> list[str]:
    """Enqueue scoring.rescore_chunk for each chunk id (as the fan-out does); the task ids."""
    return [
        client.send_task("scoring.rescore_chunk", args=[chunk], **options).id for chunk in chunk_ids
    ]


class Crew:
    """The worker processes of one test (the `crew` fixture kills them all at teardown)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.workers: list[Worker] = []

    def start(self, name: str, env: dict[str, str], *, concurrency: int = 1) -> Worker:
        """Start one more worker and wait until it is ready."""
        worker = Worker(name, env, self.log_dir, concurrency=concurrency)
        self.workers.append(worker)
        return worker.start()

    def kill(self) -> None:
        """SIGKILL every worker (a finished test needs no warm shutdown's seconds)."""
        for worker in self.workers:
            worker.kill()

    def tails(self) -> str:
        return all_tails(self.workers)

    def count(self, pattern: str) -> int:
        """Log lines matching `pattern`, over every worker."""
        return sum(w.count(pattern) for w in self.workers)

    def retry_waits(self, task_id: str) -> list[float]:
        """The seconds Celery said it would wait before each retry of a task, in order."""
        pattern = rf"\[{re.escape(task_id)}\] retry: Retry in ([\d.]+)s"
        return [float(x) for w in self.workers for x in re.findall(pattern, w.log())]


@contextlib.contextmanager
def client_for(redis_url: str) -> Iterator[Celery]:
    """A Celery client for the duration of a block."""
    client = celery_client(redis_url)
    try:
        yield client
    finally:
        client.close()
