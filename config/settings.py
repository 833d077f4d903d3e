"""Settings from the environment; one place that reads os.environ.

Each setting is declared once below: its type, its default, its environment
variable (`validation_alias`) and its bounds. `load_settings()` reads the
environment; `Settings(...)` built directly (tests, tools) takes its keyword
arguments and the defaults only. A value that cannot work raises SettingsError,
one line naming the environment variable and the reason.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from scoring.model import DEFAULT_MODEL_PATH

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The model the engine itself uses when given none (docs/scoring.md), published at first.
DEFAULT_MODEL_FILE = DEFAULT_MODEL_PATH

_FALSE = {"0", "false", "no", "off"}
_TRUE = {"", "1", "true", "yes", "on"}
_SECRET = {"TASKING_SECRET_KEY"}
# Pydantic's wording for the usual mistakes, said for an environment variable.
_REASONS = {"int_parsing": "not a whole number", "float_parsing": "not a number"}


class SettingsError(ValueError):
    """A setting that cannot work: one line naming its environment variable and why."""


def _instance_path() -> Path:
    return Path(os.environ.get("TASKING_INSTANCE", PROJECT_ROOT / "instance"))


def _port(value: Any) -> Any:
    """A port number, 1 to 65535 (whitespace around it allowed)."""
    text = str(value).strip()
    if not text.isdigit() or not 0 < int(text) < 65_536:
        raise ValueError("not a port number (1 to 65535)")
    return int(text)


Port = Annotated[int, BeforeValidator(_port)]


class Settings(BaseSettings):
    """Runtime settings; every field can be set by an environment variable."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        case_sensitive=True,
        validate_by_name=True,
        validate_by_alias=True,
    )

    instance_path: Path = Field(default_factory=_instance_path, validation_alias="TASKING_INSTANCE")
    database_url: str = Field(validation_alias="DATABASE_URL", default="")
    redis_url: str = Field(validation_alias="REDIS_URL", default="")
    model_file: Path = Field(validation_alias="TASKING_MODEL_FILE", default=DEFAULT_MODEL_FILE)
    db_pool_size: int = Field(validation_alias="TASKING_DB_POOL_SIZE", default=5, ge=1)
    db_pool_timeout: float = Field(validation_alias="TASKING_DB_POOL_TIMEOUT", default=3.0, gt=0)
    sqlite_busy_timeout_ms: int = Field(
        validation_alias="TASKING_SQLITE_BUSY_TIMEOUT_MS", default=15_000, ge=0
    )
    rescore_chunk_size: int = Field(validation_alias="TASKING_RESCORE_CHUNK", default=20_000, ge=1)
    # Runs over at least this many open cases set the board index aside (services/bulk.py).
    bulk_rescore_min: int = Field(
        validation_alias="TASKING_BULK_RESCORE_MIN", default=100_000, ge=1
    )
    embedded_redis_port: Port = Field(validation_alias="TASKING_REDIS_PORT", default=6391)
    # Celery: the hard time limit of any task, and the broker's visibility timeout above it.
    task_time_limit_s: int = Field(validation_alias="TASKING_TASK_TIME_LIMIT", default=45, ge=1)
    visibility_timeout_s: int = Field(
        validation_alias="TASKING_VISIBILITY_TIMEOUT", default=60, ge=1
    )
    # PostgreSQL: how long a rescore chunk waits for a row lock before it fails and is retried.
    chunk_lock_timeout_ms: int = Field(
        validation_alias="TASKING_CHUNK_LOCK_TIMEOUT_MS", default=5_000, ge=1
    )
    # Seconds before a failed task's first retry (doubling each time: 1, 2, 4, 8, 16, each wait
    # drawn from the upper half of that figure so that chunks failing together do not retry
    # together: workers/tasks.py backoff).
    retry_backoff_s: float = Field(validation_alias="TASKING_RETRY_BACKOFF_S", default=1.0, gt=0)
    # A running run with no chunk done for this long has its unfinished chunks sent again
    # (the sweep, on the beat); with none done for run_give_up_s it fails with its reason.
    run_stall_s: int = Field(validation_alias="TASKING_RUN_STALL_S", default=300, ge=1)
    run_give_up_s: int = Field(validation_alias="TASKING_RUN_GIVE_UP_S", default=3_600, ge=1)
    # Connect and read timeouts (seconds) for Redis, Celery's broker and PostgreSQL.
    broker_timeout_s: float = Field(validation_alias="TASKING_BROKER_TIMEOUT_S", default=5.0, gt=0)
    db_connect_timeout_s: int = Field(
        validation_alias="TASKING_DB_CONNECT_TIMEOUT_S", default=5, ge=1
    )
    # Web: the signing key (TASKING_SECRET_KEY, else a random key kept in the instance
    # folder), the port `make run` serves on, idle sign-out, and cookie flags.
    secret_key: str = Field(validation_alias="TASKING_SECRET_KEY", default="")
    web_port: Port = Field(validation_alias="TASKING_PORT", default=5000)
    session_idle_minutes: int = Field(
        validation_alias="TASKING_SESSION_IDLE_MINUTES", default=30, ge=1
    )
    session_max_hours: int = Field(validation_alias="TASKING_SESSION_MAX_HOURS", default=12, ge=1)
    secure_cookies: bool = Field(validation_alias="TASKING_SECURE_COOKIES", default=True)
    # Failed sign-ins allowed per username and per address before 429 (Flask-Limiter syntax).
    login_limit_user: str = Field(
        validation_alias="TASKING_LOGIN_LIMIT_USER", default="5 per 15 minutes"
    )
    login_limit_address: str = Field(
        validation_alias="TASKING_LOGIN_LIMIT_ADDRESS", default="20 per 15 minutes"
    )
    # API calls allowed per token (Flask-Limiter syntax); 429 with Retry-After beyond it.
    api_rate_limit: str = Field(validation_alias="TASKING_API_RATE_LIMIT", default="600 per minute")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Built directly: the keyword arguments and the defaults only (see load_settings)."""
        return (init_settings,)

    @field_validator("instance_path")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

    @field_validator("secure_cookies", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = value.strip().lower()
            if word in _FALSE | _TRUE:
                return word not in _FALSE
            raise ValueError("expected 1 or 0 (true/false, yes/no)")
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @field_validator("login_limit_user", "login_limit_address", "api_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse_many  # Flask-Limiter's own parser, so both read it alike

        try:
            parse_many(value)
        except ValueError:
            raise ValueError("expected a rate such as '5 per 15 minutes'") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.visibility_timeout_s <= self.task_time_limit_s:
            raise ValueError(
                f"TASKING_VISIBILITY_TIMEOUT: {self.visibility_timeout_s} s must be above"
                f" TASKING_TASK_TIME_LIMIT ({self.task_time_limit_s} s), or a task still"
                " running is handed to a second worker"
            )
        if self.run_give_up_s < self.run_stall_s:
            raise ValueError(
                f"TASKING_RUN_GIVE_UP_S: {self.run_give_up_s} s must not be below"
                f" TASKING_RUN_STALL_S ({self.run_stall_s} s)"
            )
        return self

    @property
    def task_soft_time_limit_s(self) -> int:
        """When a task is told to stop (SoftTimeLimitExceeded): 5 s before the hard limit."""
        return max(1, self.task_time_limit_s - 5)

    @property
    def chunk_statement_timeout_ms(self) -> int:
        """A chunk statement ends 3 s before the task's soft time limit (at least 1 s)."""
        return max(1_000, (self.task_soft_time_limit_s - 3) * 1_000)

    @property
    def sqlite_path(self) -> Path:
        """Where the embedded database lives when DATABASE_URL is not set."""
        return self.instance_path / "tasking.db"

    @property
    def effective_database_url(self) -> str:
        """DATABASE_URL, or the embedded SQLite file under the instance folder."""
        return self.database_url or f"sqlite:///{self.sqlite_path}"


class _FromEnvironment(Settings):
    """The same settings, read from the environment variables named above."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment only."""
        return (env_settings,)


def environment_names() -> dict[str, str]:
    """Each setting's environment variable, by attribute name."""
    return {name: str(field.validation_alias) for name, field in Settings.model_fields.items()}


def _one_line(exc: ValidationError) -> str:
    """The first problem, as `VARIABLE: reason (got 'value')`."""
    names = environment_names()
    error = exc.errors(include_url=False)[0]
    reason = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:  # a rule across settings names its variables itself
        return reason
    name = str(error["loc"][0])
    variable = names.get(name, name)
    if error["type"] == "extra_forbidden":
        return f"{variable}: not a setting"
    reason = _REASONS.get(error["type"]) or reason.replace("Input should be", "must be")
    if variable in _SECRET:  # never echoed, not even a wrong one
        return f"{variable}: {reason}"
    return f"{variable}: {reason} (got {error['input']!r})"


def load_settings() -> Settings:
    """Read settings from the environment (DATABASE_URL, REDIS_URL, TASKING_*).

    Raises SettingsError, one line naming the variable, for a value that cannot work.
    """
    try:
        return _FromEnvironment()
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None
