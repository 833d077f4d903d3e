"""`make run` from a copy of the tree, as a newcomer runs it (issue 11, item 7).

The tree is copied from `git ls-files` into a temporary directory. To avoid a
full reinstall, the copy's `make run` uses this test's virtualenv:
`make -o VENV/.installed run VENV=...` (the Makefile takes the venv path from
its VENV variable, and `-o` tells make not to remake the install stamp); the
Makefile's PYTHONPATH makes the copy's code, not the venv's editable install,
the code that runs. Each run gets a free TASKING_PORT and TASKING_REDIS_PORT
and its own TASKING_INSTANCE. A run is stopped as a terminal stops it: SIGINT
to make's whole process group.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import free_port, in_ci

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 180.0  # migrate, load the demo, boot web, worker and beat on shared cores
STOP_TIMEOUT_S = 90.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LOGIN_ROW = re.compile(r"^  (\S+)\s+(\S+)$")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _needs(tool: str) -> None:
    if shutil.which(tool) is None:
        reason = f"{tool} is not installed"
        if in_ci():
            pytest.fail(f"{reason} (CI is set: a missing component is a failure)", pytrace=False)
        pytest.skip(reason)


def copy_tree(dest: Path) -> None:
    """The tree as a clone of it would have it: tracked and new files, not ignored ones.

    New files count because this working tree is shared while work lands: a tracked
    module may already import one not yet committed. On a fresh clone (CI) both
    lists are the same.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    )  # fmt: skip
    for raw in listed.stdout.split(b"\0"):
        if not raw:
            continue
        source = ROOT / os.fsdecode(raw)
        if not source.is_file():  # deleted in the working tree, not yet committed
            continue
        target = dest / os.fsdecode(raw)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def leftovers(*needles: str) -> list[str]:
    """Live processes whose command line, working directory or environment holds a needle."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        if int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (entry / "environ").read_bytes().decode(errors="replace")
            cwd = ""
            with contextlib.suppress(OSError):
                cwd = os.readlink(entry / "cwd")
            if any(n in cmdline or n in cwd or n in environ for n in needles):
                found.append(f"{entry.name}: {cmdline.strip()} (cwd {cwd})")
    return found


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class MakeRun:
    """One `make run` in the copied tree, its output collected line by line."""

    def __init__(self, tree: Path, env: dict[str, str]) -> None:
        venv = Path(sys.prefix)  # this test's virtualenv, shared with the copy
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            ["make", "--no-print-directory", "-o", f"{venv}/.installed", "run", f"VENV={venv}"],
            cwd=tree, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True,  # its own group, like a terminal's
        )  # fmt: skip
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for raw in iter(self.proc.stdout.readline, b""):
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def output(self, last: int = 60) -> str:
        return "\n".join(self.lines[-last:])

    def wait_for_banner(self, url: str) -> dict[str, str]:
        """Wait until the address is printed on its own line; the sign-ins printed below it."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if url in self.lines and any("Press Ctrl-C" in line for line in self.lines):
                return self.sign_ins(self.lines.index(url))
            if self.proc.poll() is not None:
                self.reader.join(5)
                pytest.fail(f"make run ended ({self.proc.returncode}):\n{self.output()}")
            time.sleep(0.2)
        pytest.fail(f"make run printed no {url} within {START_TIMEOUT_S} s:\n{self.output()}")

    def wait_for_line(self, fragment: str) -> None:
        """Wait until a printed line contains `fragment`."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while not any(fragment in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"make run never printed {fragment!r}:\n{self.output()}")
            time.sleep(0.2)

    def sign_ins(self, start: int) -> dict[str, str]:
        heading = next(i for i in range(start, len(self.lines)) if "sign-ins" in self.lines[i])
        logins = {}
        for line in self.lines[heading + 1 :]:
            found = _LOGIN_ROW.match(line)
            if not found:
                break
            logins[found.group(1)] = found.group(2)
        return logins

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to make's process group; waits for make to end."""
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            code = self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"make run still running {STOP_TIMEOUT_S} s after SIGINT:\n{self.output()}")
        self.reader.join(10)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.reader.join(10)


def redis_pid(port: int) -> int:
    """The pid of the redis-server listening on `port` (found by its command line)."""
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            if "redis-server" in cmdline and f":{port}" in cmdline:
                return int(entry.name)
    raise AssertionError(f"no redis-server on port {port}")


def health(port: int) -> dict[str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        assert response.status == 200
        parsed: dict[str, str] = json.load(response)
        return parsed


def sign_in(port: int, username: str, password: str) -> str:
    """Sign in through the real /login form; returns the page signed in."""
    base = f"http://127.0.0.1:{port}"
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with browser.open(f"{base}/login", timeout=30) as page:
        token = _CSRF.search(page.read().decode())
    assert token, "no CSRF token on /login"
    form = {"username": username, "password": password, "csrf_token": token.group(1)}
    body = urllib.parse.urlencode(form).encode()
    with browser.open(f"{base}/login", data=body, timeout=30) as response:
        landed = urllib.parse.urlsplit(response.geturl()).path
        text: str = response.read().decode()
    assert landed != "/login", f"sign-in as {username} refused:\n{text[:2000]}"
    assert "Sign out" in text
    return text


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    """A copy of the tracked tree; any process still mentioning it is killed afterwards."""
    _needs("git")
    _needs("make")
    if not Path("/proc/self/environ").exists():
        pytest.skip("needs /proc to look for stray processes")
    copy = tmp_path / "tree"
    copy_tree(copy)
    yield copy
    for row in leftovers(str(tmp_path)):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(row.split(":", 1)[0]), signal.SIGKILL)


def test_make_run_serves_the_demo_and_ctrl_c_leaves_nothing(tree: Path) -> None:
    """Started, signed in with a printed sign-in, stopped by SIGINT; then again, reusing it."""
    web_port, redis_port = free_port(), free_port()
    instance = tree.parent / "instance"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKING_", "MAKE", "MFLAGS"))}
    for name in ("REDIS_URL", "DATABASE_URL", "PYTHONPATH"):
        env.pop(name, None)
    env.update(
        TASKING_PORT=str(web_port),
        TASKING_REDIS_PORT=str(redis_port),
        TASKING_INSTANCE=str(instance),
    )
    url = f"http://127.0.0.1:{web_port}/"
    first_logins: dict[str, str] = {}
    for attempt in ("first", "second"):
        run = MakeRun(tree, env)
        try:
            logins = run.wait_for_banner(url)
            assert set(logins) >= {"coordinator", "analyst2", "chair"}, run.output()
            assert health(web_port) == {"status": "ok", "database": "ok", "broker": "ok"}
            if attempt == "first":
                first_logins = logins
            else:  # the same database: nothing loaded again, the same sign-ins work
                assert "demo data already present: nothing loaded" in run.lines, run.output()
                assert logins == first_logins
            sign_in(web_port, "coordinator", logins["coordinator"])
            if attempt == "first":  # Redis killed: make run starts it again (issue 10, 5)
                os.kill(redis_pid(redis_port), signal.SIGKILL)
                run.wait_for_line("tasking run: the embedded Redis answers again")
                assert health(web_port)["broker"] == "ok"
            run.interrupt()
        finally:
            run.kill()
        assert "tasking run: stopped; nothing left running" in run.lines, run.output()
        assert not any("killed processes left running" in line for line in run.lines)
        assert leftovers(str(tree.parent)) == [], run.output()
        assert port_is_free(web_port), f"{attempt} run: port {web_port} still taken"
        assert port_is_free(redis_port), f"{attempt} run: Redis port {redis_port} still taken"
    assert (instance / "tasking.db").is_file()
    assert list((instance / "redis").glob("appendonly*")), "no Redis append-only file"
    assert list(instance.glob("celerybeat-schedule*")), "no beat schedule"
    assert (instance / "logs" / "run.log").is_file()
    assert (instance / "secret_key").is_file()
    assert not (tree / "instance").exists(), "make run wrote outside TASKING_INSTANCE"
