"""Settings from the environment; one place that reads os.environ."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_FILE = PROJECT_ROOT / "config" / "models" / "sctac-default.toml"


def _instance_path() -> Path:
    return Path(os.environ.get("TASKING_INSTANCE", PROJECT_ROOT / "instance")).resolve()


@dataclass(frozen=True)
class Settings:
    """Runtime settings; every field can be set by an environment variable."""

    instance_path: Path = field(default_factory=_instance_path)
    database_url: str = ""
    redis_url: str = ""
    model_file: Path = DEFAULT_MODEL_FILE
    db_pool_size: int = 5
    db_pool_timeout: float = 3.0
    sqlite_busy_timeout_ms: int = 15_000
    rescore_chunk_size: int = 20_000
    # Runs over at least this many open cases set the board index aside (services/bulk.py).
    bulk_rescore_min: int = 100_000
    embedded_redis_port: int = 6391
    # Celery: the hard time limit of any task, and the broker's visibility timeout above it.
    task_time_limit_s: int = 45
    visibility_timeout_s: int = 60
    # PostgreSQL: how long a rescore chunk waits for a row lock before it fails and is retried.
    chunk_lock_timeout_ms: int = 5_000
    # Seconds before a failed task's first retry (doubling each time: 1, 2, 4, 8, 16).
    retry_backoff_s: float = 1.0
    # A running run with no chunk done for this long has its unfinished chunks sent again
    # (the sweep, on the beat); with none done for run_give_up_s it fails with its reason.
    run_stall_s: int = 300
    run_give_up_s: int = 3_600
    # Connect and read timeouts (seconds) for Redis, Celery's broker and PostgreSQL.
    broker_timeout_s: float = 5.0
    db_connect_timeout_s: int = 5
    # Web: the signing key (TASKING_SECRET_KEY, else a random key kept in the instance
    # folder), the port `make run` serves on, idle sign-out, and cookie flags.
    secret_key: str = ""
    web_port: int = 5000
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    secure_cookies: bool = True
    # Failed sign-ins allowed per username and per address before 429 (Flask-Limiter syntax).
    login_limit_user: str = "5 per 15 minutes"
    login_limit_address: str = "20 per 15 minutes"
    # API calls allowed per token (Flask-Limiter syntax); 429 with Retry-After beyond it.
    api_rate_limit: str = "600 per minute"

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


def load_settings() -> Settings:
    """Read settings from the environment (DATABASE_URL, REDIS_URL, TASKING_*)."""
    env = os.environ
    return Settings(
        database_url=env.get("DATABASE_URL", ""),
        redis_url=env.get("REDIS_URL", ""),
        model_file=Path(env.get("TASKING_MODEL_FILE", DEFAULT_MODEL_FILE)),
        db_pool_size=int(env.get("TASKING_DB_POOL_SIZE", "5")),
        db_pool_timeout=float(env.get("TASKING_DB_POOL_TIMEOUT", "3")),
        sqlite_busy_timeout_ms=int(env.get("TASKING_SQLITE_BUSY_TIMEOUT_MS", "15000")),
        rescore_chunk_size=int(env.get("TASKING_RESCORE_CHUNK", "20000")),
        bulk_rescore_min=int(env.get("TASKING_BULK_RESCORE_MIN", "100000")),
        embedded_redis_port=int(env.get("TASKING_REDIS_PORT", "6391")),
        task_time_limit_s=int(env.get("TASKING_TASK_TIME_LIMIT", "45")),
        visibility_timeout_s=int(env.get("TASKING_VISIBILITY_TIMEOUT", "60")),
        chunk_lock_timeout_ms=int(env.get("TASKING_CHUNK_LOCK_TIMEOUT_MS", "5000")),
        retry_backoff_s=float(env.get("TASKING_RETRY_BACKOFF_S", "1")),
        run_stall_s=int(env.get("TASKING_RUN_STALL_S", "300")),
        run_give_up_s=int(env.get("TASKING_RUN_GIVE_UP_S", "3600")),
        broker_timeout_s=float(env.get("TASKING_BROKER_TIMEOUT_S", "5")),
        db_connect_timeout_s=int(env.get("TASKING_DB_CONNECT_TIMEOUT_S", "5")),
        secret_key=env.get("TASKING_SECRET_KEY", ""),
        web_port=int(env.get("TASKING_PORT", "5000")),
        session_idle_minutes=int(env.get("TASKING_SESSION_IDLE_MINUTES", "30")),
        session_max_hours=int(env.get("TASKING_SESSION_MAX_HOURS", "12")),
        secure_cookies=env.get("TASKING_SECURE_COOKIES", "1").strip().lower()
        not in {"0", "false", "no"},
        login_limit_user=env.get("TASKING_LOGIN_LIMIT_USER", "5 per 15 minutes"),
        login_limit_address=env.get("TASKING_LOGIN_LIMIT_ADDRESS", "20 per 15 minutes"),
        api_rate_limit=env.get("TASKING_API_RATE_LIMIT", "600 per minute"),
    )
