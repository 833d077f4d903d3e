"""Browser fixtures: a real server on 127.0.0.1 with the demo loaded, and Chromium.

The server is gunicorn over a temporary SQLite database made by the real
commands (`tasking init-db`, `tasking seed-demo`, whose sign-ins it reads back
from `demo-logins.txt`), with the session's throwaway Redis (database 5, apart
from the HTTP tests'). The browser is Debian's Chromium driven by Playwright.
A missing browser skips these tests on a developer machine and fails them in
CI, like every other real component. Screenshots go to TASKING_TEST_ARTIFACTS,
else `browser-artifacts` under pytest's temporary directory; the path is printed
at the end of the run.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Error, Page, Playwright, sync_playwright

from tests.support import ComponentUnavailable, free_port, log_tail, start_or_skip
from tests.support.redis import ThrowawayRedis

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
START_TIMEOUT_S = 90.0
_ARTIFACTS: list[Path] = []
_FAILED = pytest.StashKey[bool]()


class LiveServer:
    """gunicorn (2 sync workers) serving the demo on a free port of 127.0.0.1."""

    def __init__(self, instance: Path, redis_url: str) -> None:
        self.instance = instance
        self.port = 0
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TASKING_")}
        self.env.pop("DATABASE_URL", None)
        self.env.update(
            REDIS_URL=redis_url,
            TASKING_INSTANCE=str(instance),
            TASKING_SECURE_COOKIES="0",
            PYTHONPATH=str(ROOT),
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.logins: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.instance / "web.log"

    def start(self) -> LiveServer:
        for command in ("init-db", "seed-demo"):
            done = subprocess.run(
                [str(BIN / "tasking"), command], cwd=ROOT, env=self.env, capture_output=True
            )
            if done.returncode != 0:
                raise RuntimeError(f"tasking {command}: {done.stderr.decode()[-2000:]}")
        rows = (self.instance / "demo-logins.txt").read_text("utf-8").splitlines()
        self.logins = dict(row.split(" ", 1) for row in rows)
        for _attempt in range(3):  # a free port can be taken before gunicorn binds it
            self.port = free_port()
            if self._launch():
                return self
        raise RuntimeError(f"gunicorn did not answer:\n{log_tail(self.log)}")

    def _launch(self) -> bool:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", "2",
                 "--no-control-socket", "--access-logfile", "-", "tasking.web.wsgi:app"],
                cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self._healthy():
                return True
            time.sleep(0.2)
        self.stop()
        return False

    def _healthy(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


class Chromium:
    """Debian's Chromium, launched headless by Playwright."""

    name = "Chromium"

    def __init__(self) -> None:
        self.playwright: Playwright | None = None
        self.browser: Browser | None = None

    def start(self) -> Chromium:
        if not os.access(CHROMIUM, os.X_OK):
            raise ComponentUnavailable(f"{CHROMIUM} is not installed (Debian package chromium)")
        self.playwright = sync_playwright().start()
        try:
            self.browser = self.playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
        except Error as exc:
            self.close()
            raise ComponentUnavailable(f"{CHROMIUM} would not start: {exc}") from exc
        return self

    def close(self) -> None:
        if self.browser is not None:
            self.browser.close()
            self.browser = None
        if self.playwright is not None:
            self.playwright.stop()
            self.playwright = None


@pytest.fixture(scope="session")
def live_server(
    redis_server: ThrowawayRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The demo served by gunicorn on 127.0.0.1 (started once per session)."""
    redis_url = redis_server.url.rsplit("/", 1)[0] + "/5"
    # Not start_or_skip: a server of this project that will not start is a failure, always.
    server = LiveServer(tmp_path_factory.mktemp("browser-instance"), redis_url).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """A headless Chromium for the session."""
    component = start_or_skip(Chromium())
    assert component.browser is not None
    yield component.browser
    component.close()


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go (printed at the end of the run)."""
    configured = os.environ.get("TASKING_TEST_ARTIFACTS")
    path = Path(configured) if configured else tmp_path_factory.getbasetemp() / "browser-artifacts"
    path.mkdir(parents=True, exist_ok=True)
    _ARTIFACTS.append(path)
    return path


@pytest.fixture
def page(
    chromium: Browser, live_server: LiveServer, artifacts: Path, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the live server; a failure leaves a screenshot."""
    context = chromium.new_context(
        base_url=live_server.url,
        viewport={"width": 1280, "height": 900},
        locale="en-GB",  # dates in date fields read as a UK user sees them
        timezone_id="Europe/London",
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    if request.node.stash.get(_FAILED, False):
        page.screenshot(path=str(artifacts / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Note a failed test body, for the page fixture's screenshot."""
    report = yield
    if call.when == "call":
        item.stash[_FAILED] = report.failed
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say where the screenshots are."""
    for path in _ARTIFACTS:
        terminalreporter.write_line(f"browser screenshots: {path}")
