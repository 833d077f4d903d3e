"""config/settings.py: each setting read from its variable, and a bad one named in one line.

The entry points (the command line, the web factory, the Celery app) all stop on
a setting that cannot work with that one line, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from config.settings import (
    DEFAULT_MODEL_FILE,
    PROJECT_ROOT,
    Settings,
    SettingsError,
    environment_names,
    load_settings,
)
from tasking.cli import main

ROOT = Path(__file__).resolve().parent.parent

# The defaults, attribute by attribute (as they were before pydantic-settings).
DEFAULTS = {
    "database_url": "",
    "redis_url": "",
    "model_file": DEFAULT_MODEL_FILE,
    "db_pool_size": 5,
    "db_pool_timeout": 3.0,
    "sqlite_busy_timeout_ms": 15_000,
    "rescore_chunk_size": 20_000,
    "bulk_rescore_min": 100_000,
    "embedded_redis_port": 6391,
    "task_time_limit_s": 45,
    "visibility_timeout_s": 60,
    "chunk_lock_timeout_ms": 5_000,
    "retry_backoff_s": 1.0,
    "run_stall_s": 300,
    "run_give_up_s": 3_600,
    "broker_timeout_s": 5.0,
    "db_connect_timeout_s": 5,
    "secret_key": "",
    "web_port": 5000,
    "session_idle_minutes": 30,
    "session_max_hours": 12,
    "secure_cookies": True,
    "login_limit_user": "5 per 15 minutes",
    "login_limit_address": "20 per 15 minutes",
    "api_rate_limit": "600 per minute",
}

# One value each, as the environment gives it, and as the setting holds it.
GIVEN = {
    "TASKING_INSTANCE": ("/tmp/tasking-elsewhere", Path("/tmp/tasking-elsewhere")),
    "DATABASE_URL": ("sqlite:///x.db", "sqlite:///x.db"),
    "REDIS_URL": ("redis://127.0.0.1:7/0", "redis://127.0.0.1:7/0"),
    "TASKING_MODEL_FILE": ("/tmp/model.toml", Path("/tmp/model.toml")),
    "TASKING_DB_POOL_SIZE": ("7", 7),
    "TASKING_DB_POOL_TIMEOUT": ("2.5", 2.5),
    "TASKING_SQLITE_BUSY_TIMEOUT_MS": ("300", 300),
    "TASKING_RESCORE_CHUNK": ("1000", 1000),
    "TASKING_BULK_RESCORE_MIN": ("50", 50),
    "TASKING_REDIS_PORT": (" 6392 ", 6392),
    "TASKING_TASK_TIME_LIMIT": ("30", 30),
    "TASKING_VISIBILITY_TIMEOUT": ("90", 90),
    "TASKING_CHUNK_LOCK_TIMEOUT_MS": ("250", 250),
    "TASKING_RETRY_BACKOFF_S": ("0.05", 0.05),
    "TASKING_RUN_STALL_S": ("1", 1),
    "TASKING_RUN_GIVE_UP_S": ("600", 600),
    "TASKING_BROKER_TIMEOUT_S": ("1", 1.0),
    "TASKING_DB_CONNECT_TIMEOUT_S": ("2", 2),
    "TASKING_SECRET_KEY": ("k" * 40, "k" * 40),
    "TASKING_PORT": ("5001", 5001),
    "TASKING_SESSION_IDLE_MINUTES": ("5", 5),
    "TASKING_SESSION_MAX_HOURS": ("1", 1),
    "TASKING_SECURE_COOKIES": ("0", False),
    "TASKING_LOGIN_LIMIT_USER": ("3 per minute", "3 per minute"),
    "TASKING_LOGIN_LIMIT_ADDRESS": ("9 per hour", "9 per hour"),
    "TASKING_API_RATE_LIMIT": ("10 per second", "10 per second"),
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting comes from the environment of the test run."""
    for variable in environment_names().values():
        monkeypatch.delenv(variable, raising=False)


def test_defaults_are_unchanged() -> None:
    settings = load_settings()
    assert {name: getattr(settings, name) for name in DEFAULTS} == DEFAULTS
    assert settings.instance_path == PROJECT_ROOT / "instance"
    assert settings.task_soft_time_limit_s == 40
    assert settings.chunk_statement_timeout_ms == 37_000
    assert settings.effective_database_url == f"sqlite:///{PROJECT_ROOT / 'instance/tasking.db'}"


def test_every_setting_has_one_variable_and_a_test_value() -> None:
    assert set(environment_names()) == set(DEFAULTS) | {"instance_path"}
    assert set(environment_names().values()) == set(GIVEN)


@pytest.mark.parametrize("variable", sorted(GIVEN))
def test_each_setting_is_read_from_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    text, expected = GIVEN[variable]
    monkeypatch.setenv(variable, text)
    attribute = {v: k for k, v in environment_names().items()}[variable]
    assert getattr(load_settings(), attribute) == expected


def test_variable_names_are_case_sensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("tasking_port", "5001")
    assert load_settings().web_port == 5000


def test_settings_built_directly_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKING_DB_POOL_SIZE", "9")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///elsewhere.db")
    settings = Settings(db_pool_size=3)
    assert settings.db_pool_size == 3
    assert settings.database_url == ""
    assert load_settings().db_pool_size == 9


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.web_port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TASKING_DB_POOL_SIZE", "abc", "TASKING_DB_POOL_SIZE: not a whole number (got 'abc')"),
        ("TASKING_DB_POOL_SIZE", "0", "TASKING_DB_POOL_SIZE: must be greater than or equal to 1"),
        ("TASKING_DB_POOL_TIMEOUT", "soon", "TASKING_DB_POOL_TIMEOUT: not a number (got 'soon')"),
        ("TASKING_BROKER_TIMEOUT_S", "-1", "TASKING_BROKER_TIMEOUT_S: must be greater than 0"),
        ("TASKING_RETRY_BACKOFF_S", "0", "TASKING_RETRY_BACKOFF_S: must be greater than 0"),
        ("TASKING_TASK_TIME_LIMIT", "-5", "TASKING_TASK_TIME_LIMIT: must be greater than or"),
        ("TASKING_SQLITE_BUSY_TIMEOUT_MS", "-1", "TASKING_SQLITE_BUSY_TIMEOUT_MS: must be"),
        ("TASKING_PORT", "http", "TASKING_PORT: not a port number (1 to 65535) (got 'http')"),
        ("TASKING_REDIS_PORT", "70000", "TASKING_REDIS_PORT: not a port number (1 to 65535)"),
        ("TASKING_PORT", "0", "TASKING_PORT: not a port number"),
        ("TASKING_SECURE_COOKIES", "maybe", "TASKING_SECURE_COOKIES: expected 1 or 0"),
        ("TASKING_LOGIN_LIMIT_USER", "lots", "TASKING_LOGIN_LIMIT_USER: expected a rate such as"),
        ("TASKING_API_RATE_LIMIT", "600/eon", "TASKING_API_RATE_LIMIT: expected a rate"),
        ("TASKING_SESSION_IDLE_MINUTES", "0", "TASKING_SESSION_IDLE_MINUTES: must be greater"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(("limit", "visibility"), [("60", None), ("45", "45"), ("90", "60")])
def test_visibility_timeout_must_be_above_the_task_time_limit(
    monkeypatch: pytest.MonkeyPatch, limit: str, visibility: str | None
) -> None:
    monkeypatch.setenv("TASKING_TASK_TIME_LIMIT", limit)
    if visibility is not None:
        monkeypatch.setenv("TASKING_VISIBILITY_TIMEOUT", visibility)
    with pytest.raises(SettingsError, match=r"^TASKING_VISIBILITY_TIMEOUT: \d+ s must be above"):
        load_settings()
    monkeypatch.setenv("TASKING_VISIBILITY_TIMEOUT", str(int(limit) + 1))
    assert load_settings().visibility_timeout_s == int(limit) + 1


def test_give_up_must_not_come_before_the_stall(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKING_RUN_STALL_S", "600")
    monkeypatch.setenv("TASKING_RUN_GIVE_UP_S", "300")
    with pytest.raises(SettingsError, match=r"^TASKING_RUN_GIVE_UP_S: 300 s must not be below"):
        load_settings()


def test_a_short_secret_key_is_refused_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKING_SECRET_KEY", "hunter2")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == "TASKING_SECRET_KEY: must be at least 32 characters"


@pytest.mark.parametrize(
    ("word", "secure"),
    [("", True), ("1", True), ("yes", True), ("TRUE", True), ("0", False), (" no ", False),
     ("false", False), ("off", False)],
)  # fmt: skip
def test_secure_cookies_words(monkeypatch: pytest.MonkeyPatch, word: str, secure: bool) -> None:
    monkeypatch.setenv("TASKING_SECURE_COOKIES", word)
    assert load_settings().secure_cookies is secure


def test_an_unknown_setting_is_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Settings(pool_size=3)  # type: ignore[call-arg]


# --- The entry points ------------------------------------------------------------------


@pytest.mark.parametrize("command", [["check"], ["runs"], ["init-db"], ["run"]])
def test_the_command_line_says_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str]
) -> None:
    monkeypatch.setenv("TASKING_INSTANCE", str(tmp_path))
    monkeypatch.setenv("TASKING_DB_POOL_SIZE", "abc")
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1, result.output
    (line,) = result.output.strip().splitlines()
    assert line.endswith("TASKING_DB_POOL_SIZE: not a whole number (got 'abc')"), line
    assert line.startswith("settings FAILED: " if command == ["check"] else "Error: "), line
    assert not (tmp_path / "tasking.db").exists()


def test_check_says_the_settings_are_ok(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TASKING_INSTANCE", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")
    result = CliRunner().invoke(main, ["check"])
    assert result.output.splitlines()[0] == "settings ok", result.output


def test_the_web_factory_says_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from tasking.web import StartupError, create_app

    monkeypatch.setenv("TASKING_TASK_TIME_LIMIT", "120")
    with pytest.raises(StartupError, match=r"^TASKING_VISIBILITY_TIMEOUT: 60 s must be above"):
        create_app()


@pytest.mark.parametrize(
    "code",
    ["import workers", "import tasking.web.wsgi"],
    ids=["celery-app", "gunicorn-app"],
)
def test_the_worker_and_web_processes_say_one_line(tmp_path: Path, code: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKING_", "PYTEST"))}
    env.update(TASKING_INSTANCE=str(tmp_path), TASKING_BROKER_TIMEOUT_S="0")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.endswith(": TASKING_BROKER_TIMEOUT_S: must be greater than 0 (got '0')"), line
