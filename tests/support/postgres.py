"""A real, throwaway PostgreSQL server for tests.

``ThrowawayPostgres().start()`` runs ``initdb`` into a fresh temporary directory
and starts the server with ``pg_ctl -w``: TCP on 127.0.0.1 only (a free port),
a unix socket inside the temporary directory, trust authentication, and
durability switched off for speed (fsync, synchronous_commit,
full_page_writes). ``stop()`` stops it immediately and removes the directory.

PostgreSQL refuses to run as root, so when we are root the server runs as the
``postgres`` system user (``runuser``, else ``setpriv``), owning the directory.

If ``TASKING_TEST_POSTGRES_URL`` (or ``PG_URL``) is set, that external server is
used instead: ``url`` is that URL, ``create_database`` creates databases on it,
and ``stop()`` leaves the server alone.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from tests.support import ComponentUnavailable, free_port, log_tail

__all__ = ["ENV_URL_VARS", "MIN_SERVER_VERSION", "ThrowawayPostgres", "find_pg_bin_dir"]

ENV_URL_VARS = ("TASKING_TEST_POSTGRES_URL", "PG_URL")
MIN_SERVER_VERSION = 130000  # server_version_num of PostgreSQL 13
DRIVER = "postgresql+psycopg"
SUPERUSER = "postgres"
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SETTINGS = """
# --- tasking test server (throwaway; durability off for speed) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '{socket_dir}'
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_min_messages = warning
"""


def find_pg_bin_dir(bin_dir: Path | None = None) -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``.

    Search order: ``bin_dir`` if given (only there), then every directory on
    PATH holding ``initdb``, then ``/usr/lib/postgresql/*/bin`` (newest first).
    """
    if bin_dir is not None:
        candidates = [bin_dir]
    else:
        candidates = [Path(d) for d in os.environ.get("PATH", "").split(os.pathsep) if d]

        def major(path: str) -> int:
            version = Path(path).parent.name
            return int(version) if version.isdigit() else 0

        debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True)
        candidates += [Path(d) for d in debian]
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in ("initdb", "pg_ctl")):
            return directory
    where = str(bin_dir) if bin_dir is not None else "PATH or /usr/lib/postgresql/*/bin"
    raise ComponentUnavailable(f"initdb and pg_ctl not found in {where} (install `postgresql`)")


def _normalise(url: str | URL) -> URL:
    parsed = make_url(url)
    if parsed.drivername.split("+")[0] in {"postgres", "postgresql"}:
        return parsed.set(drivername=DRIVER)
    raise ComponentUnavailable(f"not a PostgreSQL URL: {parsed.drivername}://...")


def _server_account() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ComponentUnavailable("running as root and no `postgres` (or `nobody`) user exists")


class ThrowawayPostgres:
    """A PostgreSQL server for one test session (or an external one from the env)."""

    name = "PostgreSQL"

    def __init__(
        self,
        *,
        database: str = "tasking_test",
        bin_dir: Path | None = None,
        external_url: str | None = None,
    ) -> None:
        self.database = _check_name(database)
        self.bin_dir = bin_dir
        self.external: URL | None = _normalise(external_url) if external_url else None
        self.port: int | None = None
        self.tmp_dir: Path | None = None
        self._url: URL | None = None

    @classmethod
    def from_env(cls, *, database: str = "tasking_test") -> ThrowawayPostgres:
        """A throwaway server, or the external one named in the environment if set."""
        external = next((os.environ[v] for v in ENV_URL_VARS if os.environ.get(v)), None)
        return cls(database=database, external_url=external)

    # --- public API -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """SQLAlchemy URL (``postgresql+psycopg://...``) of the session database."""
        return self._require_url().render_as_string(hide_password=False)

    @property
    def is_external(self) -> bool:
        return self.external is not None

    @property
    def socket_dir(self) -> Path | None:
        """Directory of the unix socket (``None`` for an external server)."""
        return self.tmp_dir

    def url_for(self, database: str) -> str:
        """URL of another database on the same server."""
        url = self._require_url().set(database=_check_name(database))
        return url.render_as_string(hide_password=False)

    def create_database(
        self, name: str, *, replace: bool = False, template: str | None = None
    ) -> str:
        """Create database ``name`` and return its SQLAlchemy URL.

        ``replace=True`` drops an existing database of that name first
        (``WITH (FORCE)``, disconnecting its sessions); ``template`` copies
        another database (much faster than migrating each test's database).
        """
        quoted = self._quote(_check_name(name))
        copy = f" TEMPLATE {self._quote(_check_name(template))}" if template else ""
        with self._admin() as conn:
            if replace:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
            conn.exec_driver_sql(f"CREATE DATABASE {quoted}{copy}")
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting its sessions."""
        quoted = self._quote(_check_name(name))
        with self._admin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")

    def server_version_num(self) -> int:
        with self._admin() as conn:
            return int(conn.exec_driver_sql("SHOW server_version_num").scalar_one())

    def start(self) -> ThrowawayPostgres:
        if self._url is not None:
            return self
        if self.external is not None:
            self._url = self.external
            try:
                version = self.server_version_num()
            except sa.exc.OperationalError as exc:
                self._url = None
                raise ComponentUnavailable(f"cannot connect to external server: {exc}") from exc
        else:
            self._start_local()
            version = self.server_version_num()
        if version < MIN_SERVER_VERSION:
            self.stop()
            raise ComponentUnavailable(f"server_version_num {version} < {MIN_SERVER_VERSION}")
        return self

    def stop(self) -> None:
        """Stop the throwaway server (``-m immediate``) and delete its directory."""
        atexit.unregister(self.stop)
        self._url = None
        if self.tmp_dir is None:
            return
        tmp, self.tmp_dir = self.tmp_dir, None
        data = tmp / "data"
        if (data / "postmaster.pid").exists():
            try:
                pg_ctl = find_pg_bin_dir(self.bin_dir) / "pg_ctl"
                argv = [str(pg_ctl), "stop", "-D", str(data), "-m", "immediate", "-w"]
                stopped = self._run(argv, tmp, check=False, timeout=30).returncode == 0
            except ComponentUnavailable:
                stopped = False
            if not stopped:
                _kill_postmaster(data)
        shutil.rmtree(tmp, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = "external" if self.is_external else f"127.0.0.1:{self.port}"
        return f"<ThrowawayPostgres {where} running={self._url is not None}>"

    # --- internals ------------------------------------------------------------------

    def _start_local(self) -> None:
        bin_dir = find_pg_bin_dir(self.bin_dir)
        tmp = Path(tempfile.mkdtemp(prefix="tasking-pg-"))
        if len(str(tmp)) > 80:  # unix socket paths are limited to ~107 bytes
            shutil.rmtree(tmp)
            tmp = Path(tempfile.mkdtemp(prefix="tasking-pg-", dir="/tmp"))
        self.tmp_dir = tmp
        atexit.register(self.stop)
        try:
            if os.geteuid() == 0:
                account = _server_account()
                os.chown(tmp, account.pw_uid, account.pw_gid)
            data = tmp / "data"
            initdb = [
                str(bin_dir / "initdb"),
                *("-D", str(data), "-U", SUPERUSER, "-A", "trust"),
                *("-E", "UTF8", "--locale=C", "--no-sync"),
            ]
            done = self._run(initdb, tmp, check=False, timeout=120)
            if done.returncode != 0:
                raise ComponentUnavailable(
                    f"initdb failed ({done.returncode}): {done.stderr.strip()}"
                )
            with open(data / "postgresql.conf", "a") as conf:
                conf.write(_SETTINGS.format(socket_dir=tmp))
            self._pg_ctl_start(bin_dir, tmp)
            self._url = URL.create(
                DRIVER, username=SUPERUSER, host="127.0.0.1", port=self.port, database="postgres"
            )
            with self._admin() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {self._quote(self.database)}")
            self._url = self._url.set(database=self.database)
        except BaseException:
            self.stop()
            raise

    def _pg_ctl_start(self, bin_dir: Path, tmp: Path) -> None:
        log = tmp / "server.log"
        for _attempt in range(3):
            self.port = free_port()
            argv = [
                str(bin_dir / "pg_ctl"),
                *("start", "-w", "-t", "60", "-D", str(tmp / "data")),
                *("-l", str(log), "-o", f"-p {self.port}"),
            ]
            done = self._run(argv, tmp, check=False, timeout=90)
            if done.returncode == 0:
                return
            if "could not bind" not in log_tail(log, 50):  # anything but a lost port race
                break
        raise ComponentUnavailable(
            f"pg_ctl start failed: {done.stdout}{done.stderr}\n--- server.log ---\n" + log_tail(log)
        )

    def _run(
        self, argv: list[str], cwd: Path, *, check: bool, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool, as the server account when we are root."""
        if os.geteuid() == 0:
            argv = [*_drop_privileges(_server_account()), *argv]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        try:
            return subprocess.run(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=check,
                timeout=timeout,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ComponentUnavailable(f"{argv[0]} failed: {exc}") from exc

    @contextlib.contextmanager
    def _admin(self) -> Iterator[sa.Connection]:
        engine = sa.create_engine(
            self._require_url(),
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"connect_timeout": 10},
        )
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()

    def _quote(self, name: str) -> str:
        return f'"{name}"'  # safe: names are checked against _DB_NAME first

    def _require_url(self) -> URL:
        if self._url is None:
            raise RuntimeError("the PostgreSQL server is not running: call start() first")
        return self._url


def _check_name(name: str) -> str:
    if not _DB_NAME.match(name):
        raise ValueError(f"database name {name!r} must match {_DB_NAME.pattern}")
    return name


def _drop_privileges(account: pwd.struct_passwd) -> list[str]:
    for tool in ("runuser", "/usr/sbin/runuser", "/sbin/runuser"):
        found = shutil.which(tool)
        if found:
            return [found, "-u", account.pw_name, "--"]
    setpriv = shutil.which("setpriv") or shutil.which("/usr/bin/setpriv")
    if setpriv:
        return [
            setpriv,
            f"--reuid={account.pw_uid}",
            f"--regid={account.pw_gid}",
            "--init-groups",
            "--",
        ]
    raise ComponentUnavailable("running as root but neither runuser nor setpriv is available")


def _kill_postmaster(data: Path) -> None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)
