"""The web process at start-up: a bad or unreachable setting is one line, and gunicorn stops.

Issue 11, item 8: gunicorn runs `tasking.web.wsgi:app` as `make run` does; with
a database or broker that cannot be used the worker prints one line naming the
setting and the reason, and gunicorn exits (status 3, "worker failed to
boot") instead of starting workers again and again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
EXIT_WAIT_S = 120.0


def refused_port() -> int:
    """A port nothing listens on (free a moment ago)."""
    return free_port()


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        (
            {"DATABASE_URL": "notaurl"},
            "tasking web: DATABASE_URL: cannot be used (",
        ),
        (
            {"DATABASE_URL": "postgresql+psycopg://tasking@127.0.0.1:{port}/tasking"},
            "tasking web: DATABASE_URL: the database does not answer (",
        ),
        (
            {"REDIS_URL": "redis://127.0.0.1:{port}/0"},
            "tasking web: REDIS_URL: the broker redis://127.0.0.1:{port}/0 does not answer (",
        ),
    ],
    ids=["bad-database-url", "refused-database", "refused-broker"],
)
def test_web_start_up_error_is_one_line_and_gunicorn_exits(
    settings: dict[str, str], line: str, tmp_path: Path
) -> None:
    """gunicorn ends with status 3 and our line; no traceback, no endless restarts."""
    port = refused_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKING_")}
    env.pop("DATABASE_URL", None)
    env.update(
        TASKING_INSTANCE=str(tmp_path / "instance"),
        REDIS_URL=f"redis://127.0.0.1:{refused_port()}/0",  # never reached when the DB fails
        PYTHONPATH=str(ROOT),
    )
    env.update({name: value.format(port=port) for name, value in settings.items()})
    bind = f"127.0.0.1:{free_port()}"
    done = subprocess.run(
        [str(GUNICORN), "--bind", bind, "--workers", "1", "--no-control-socket",
         "tasking.web.wsgi:app"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=EXIT_WAIT_S,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    ours = [row for row in output.splitlines() if row.startswith("tasking web: ")]
    assert ours, output
    assert all(row.startswith(line.format(port=port)) for row in ours), output
    assert "Traceback" not in output
    assert "Worker failed to boot" in output
