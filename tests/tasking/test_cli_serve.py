"""`tasking run` refuses a setting that cannot work in one line, before doing any work.

(What it starts, and how Ctrl-C stops it, is tested end to end in tests/test_make_run.py.)
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tasking.cli import main
from tests.support import free_port
from tests.support.redis import ThrowawayRedis


@pytest.fixture
def listening() -> Iterator[int]:
    """A port of 127.0.0.1 something listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def run(tmp_path: Path, **env: str) -> Result:
    """`tasking run` with a fresh instance folder, free ports and the given settings."""
    base = {
        "TASKING_INSTANCE": str(tmp_path / "instance"),
        "TASKING_PORT": str(free_port()),
        "TASKING_REDIS_PORT": str(free_port()),
        "REDIS_URL": "",
        "DATABASE_URL": "",
    }
    return CliRunner().invoke(main, ["run"], env={**base, **env})


def refused(result: Result, start: str) -> None:
    """Exit status 1, one `Error:` line starting as expected, and no work done."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"Error: {start}"), result.output


def test_run_refuses_a_web_port_in_use(tmp_path: Path, listening: int) -> None:
    refused(run(tmp_path, TASKING_PORT=str(listening)), f"TASKING_PORT: port {listening} ")
    assert not (tmp_path / "instance" / "tasking.db").exists()


def test_run_refuses_a_port_that_is_not_a_number(tmp_path: Path) -> None:
    refused(run(tmp_path, TASKING_PORT="http"), "TASKING_PORT: not a port number (1 to 65535)")
    refused(run(tmp_path, TASKING_REDIS_PORT="70000"), "TASKING_REDIS_PORT: not a port number")


def test_run_refuses_a_bad_database_url(tmp_path: Path) -> None:
    refused(run(tmp_path, DATABASE_URL="notaurl"), "DATABASE_URL is not a database URL")


def test_run_refuses_a_database_that_does_not_answer(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://tasking@127.0.0.1:{free_port()}/tasking"
    refused(run(tmp_path, DATABASE_URL=url), "the database cannot be used (DATABASE_URL")


def test_run_refuses_a_redis_url_that_does_not_answer(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    refused(run(tmp_path, REDIS_URL=url), f"REDIS_URL: {url} does not answer")


def test_run_refuses_a_redis_port_used_by_another_redis(
    tmp_path: Path, redis_server: ThrowawayRedis
) -> None:
    """Someone else's Redis on TASKING_REDIS_PORT is left alone, and the database untouched."""
    result = run(tmp_path, TASKING_REDIS_PORT=str(redis_server.port))
    refused(result, f"TASKING_REDIS_PORT: port {redis_server.port} is used by another Redis")
    assert redis_server.running
    assert not (tmp_path / "instance" / "demo-logins.txt").exists()


def test_run_refuses_a_process_not_in_the_procfile(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "flower"], env={"REDIS_URL": ""})
    refused(result, "not in the Procfile: flower")
