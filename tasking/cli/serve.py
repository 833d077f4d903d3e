"""`tasking run` (what `make run` starts): the whole service on this machine.

It checks the settings first (one line naming the setting when one is wrong),
brings the database up to date and loads the fictional demo into an empty
embedded database, then starts the embedded Redis as its own child in the
foreground (and starts it again if it dies) unless REDIS_URL is set, and the
Procfile's processes through honcho (web, worker, beat) with REDIS_URL set to
that Redis, so none of them starts another. Once the web answers /healthz it
prints the address and the demo sign-ins. Ctrl-C or SIGTERM stops honcho's
processes, then Redis, waits for each, and kills anything still carrying this
run's mark, so no process is left behind. Everything written goes under the
instance folder (TASKING_INSTANCE): database, Redis data, beat schedule,
secret key and `logs/run.log`.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from types import FrameType

import click

from config.settings import PROJECT_ROOT, Settings, SettingsError, load_settings
from tasking.broker import broker_problem, redact
from tasking.cli.db import configured_engine, init_db
from tasking.cli.demo import seed_demo_command
from tasking.cli.errors import explain
from tasking.cli.supervise import RUN_MARK, Console, EmbeddedRedis, marked_processes, port_problem

PROCFILE = PROJECT_ROOT / "Procfile"
HONCHO_STOP_S = 20.0  # honcho itself sends SIGKILL 5 s after SIGTERM


def settings_from_env() -> Settings:
    """load_settings(), with a setting that cannot work named in one line."""
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def check_settings(settings: Settings, *, web: bool) -> None:
    """Refuse to start, in one line naming the setting, when a setting cannot work."""
    if web and (problem := port_problem(settings.web_port)):
        raise click.ClickException(f"TASKING_PORT: port {settings.web_port} on 127.0.0.1 {problem}")
    try:
        engine = configured_engine(settings)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        finally:
            engine.dispose()
    except click.ClickException:
        raise
    except Exception as exc:
        raise click.ClickException(explain(exc) or f"DATABASE_URL: {exc}") from None
    url = settings.redis_url
    if url and (problem := broker_problem(url, settings.broker_timeout_s)):
        raise click.ClickException(f"REDIS_URL: {redact(url)} does not answer ({problem})")


def procfile_names() -> list[str]:
    """The process names of the Procfile, in order."""
    lines = PROCFILE.read_text("utf-8").splitlines()
    return [line.split(":", 1)[0].strip() for line in lines if ":" in line and line[:1].isalnum()]


def web_answers(port: int) -> bool:
    """True when the web answers GET /healthz with 200 (database and broker ok)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def banner(settings: Settings, what: str) -> str:
    """The address and the demo sign-ins, printed once the web answers."""
    logins = settings.instance_path / "demo-logins.txt"
    rule = "-" * 72
    lines = [rule, f"tasking is running ({what}). Open this address in a browser:", ""]
    lines += [f"http://127.0.0.1:{settings.web_port}/", ""]
    if logins.exists():
        lines.append(f"Demo sign-ins (fictional people), also in {logins}:")
        for row in logins.read_text("utf-8").splitlines():
            user, _, password = row.partition(" ")
            lines.append(f"  {user:<12} {password}")
    else:
        lines.append(f"Demo sign-ins: none kept here ({logins} does not exist).")
    lines += [f"Logs: {settings.instance_path / 'logs' / 'run.log'}"]
    lines += ["Press Ctrl-C to stop everything.", rule]
    return "\n".join(lines)


class Launcher:
    """Starts Redis and honcho, waits for a stop, and stops everything it started."""

    def __init__(self, settings: Settings, processes: list[str], console: Console) -> None:
        self.settings = settings
        self.processes = processes
        self.console = console
        self.mark = uuid.uuid4().hex
        self.redis = None if settings.redis_url else EmbeddedRedis(settings, console)
        self.stop = threading.Event()
        self.signals: list[int] = []
        self.honcho: subprocess.Popen[bytes] | None = None
        self.reader: threading.Thread | None = None

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signals.append(signum)
        self.stop.set()

    def env(self) -> dict[str, str]:
        """The environment of every child: this tree, this venv, this Redis, this mark."""
        env = dict(os.environ)
        paths = [str(Path(sys.executable).parent), env.get("PATH", "")]
        pythonpath = [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]
        env.update(
            PATH=os.pathsep.join(p for p in paths if p),
            PYTHONPATH=os.pathsep.join(p for p in pythonpath if p),
            PYTHONUNBUFFERED="1",
            TASKING_INSTANCE=str(self.settings.instance_path),
            TASKING_PORT=str(self.settings.web_port),
            TASKING_SECURE_COOKIES="0",  # plain http, bound to 127.0.0.1 (the Procfile's web)
            REDIS_URL=self.settings.redis_url or (self.redis.url if self.redis else ""),
            **{RUN_MARK: self.mark},
        )
        return env

    def run(self) -> int:
        """Run until Ctrl-C, SIGTERM or the end of a process; returns the exit status."""
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        env = self.env()
        try:
            if self.redis is not None:
                self.redis.start(env)
                self.console.say(f"tasking run: embedded Redis on 127.0.0.1:{self.redis.port}")
                threading.Thread(target=self.redis.supervise, args=(env,), daemon=True).start()
            if self.stop.is_set():
                return 0
            self.honcho = subprocess.Popen(
                [sys.executable, "-m", "honcho", "start", "--no-colour", "-f", str(PROCFILE),
                 "-d", str(PROJECT_ROOT), *self.processes],
                cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            self.reader = threading.Thread(
                target=self._copy_output, args=(self.honcho,), daemon=True
            )
            self.reader.start()
            self._wait()
            return 0 if self.signals else (self.honcho.returncode or 1)
        finally:
            self._shutdown()

    def _copy_output(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            self.console.say(raw.decode("utf-8", "replace").rstrip("\n"))

    def _wait(self) -> None:
        assert self.honcho is not None
        announced = "web" not in self.processes
        if announced:  # nothing to open in a browser: say what runs, and how to stop it
            log = self.settings.instance_path / "logs" / "run.log"
            self.console.say(
                f"tasking run: {', '.join(self.processes)} started (log: {log});"
                " press Ctrl-C to stop everything"
            )
        while self.honcho.poll() is None and not self.stop.is_set():
            if not announced and web_answers(self.settings.web_port):
                announced = True
                self.console.say(banner(self.settings, ", ".join(self.processes)))
            self.stop.wait(0.25 if not announced else 1.0)
        if self.signals:
            name = signal.Signals(self.signals[0]).name
            self.console.say(f"tasking run: {name} received: stopping everything")
        elif self.honcho.returncode is not None:
            self.console.say("tasking run: a process stopped (see above): stopping everything")

    def _shutdown(self) -> None:
        honcho = self.honcho
        if honcho is not None:
            if honcho.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    honcho.send_signal(signal.SIGINT)
            try:
                honcho.wait(HONCHO_STOP_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(honcho.pid, signal.SIGKILL)
                honcho.wait()
        if self.reader is not None:
            self.reader.join(5)  # honcho's last lines before ours
        if self.redis is not None:
            self.redis.stop()
        strays = marked_processes(self.mark)
        for pid in strays:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if strays:
            self.console.say(f"tasking run: killed processes left running: {strays}")
        self.console.say("tasking run: stopped; nothing left running")


@click.command("run")
@click.argument("processes", nargs=-1)
@click.option(
    "--demo/--no-demo",
    default=None,
    help="Load the fictional demo into an empty database (default: the embedded one only).",
)
def run(processes: tuple[str, ...], demo: bool | None) -> None:
    """Run the service here: PROCESSES of the Procfile (default all), Redis; Ctrl-C stops all."""
    settings = settings_from_env()
    names = procfile_names()
    chosen = list(processes) or names
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        raise click.ClickException(f"not in the Procfile: {', '.join(unknown)} ({names})")
    check_settings(settings, web="web" in chosen)
    console = Console(settings.instance_path / "logs" / "run.log")
    try:
        launcher = Launcher(settings, chosen, console)
        if launcher.redis is not None:
            launcher.redis.claim_port()  # before any work, like every other setting
        ctx = click.get_current_context()
        ctx.invoke(init_db)
        if demo or (demo is None and not settings.database_url):
            ctx.invoke(seed_demo_command)
        code = launcher.run()
    finally:
        console.close()
    raise SystemExit(code)
