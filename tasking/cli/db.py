"""Database commands: init-db, create-user, rescore."""

from __future__ import annotations

import getpass
import json
import sys
from typing import NoReturn

import click
from sqlalchemy import Engine

from config.settings import Settings, SettingsError, load_settings
from tasking.broker import BrokerUnavailable, broker_problem, broker_url
from tasking.cli.errors import broker_label, database_label, explain
from tasking.db import engine_from_settings, session_scope
from tasking.dispatch import send
from tasking.migrate import upgrade
from tasking.models import Role
from tasking.services import bulk
from tasking.services.errors import DomainError
from tasking.services.rescore import filter_sql, rescore_all
from tasking.services.scores import current_model
from tasking.services.users import create_user as create_user_service


def configured_engine(settings: Settings | None = None) -> Engine:
    """The engine for the configured database (a missing driver is one line, not a traceback)."""
    try:
        return engine_from_settings(settings or load_settings())
    except ImportError as exc:
        raise click.ClickException(
            f"DATABASE_URL needs a database driver that is not installed ({exc.name or exc});"
            " use sqlite:///PATH or postgresql+psycopg://USER@HOST/NAME"
        ) from None


def fail(exc: DomainError) -> NoReturn:
    """Report a refused operation on stderr and exit non-zero."""
    click.echo(f"error: {exc.message}", err=True)
    for name, reason in exc.fields.items():
        click.echo(f"  {name}: {reason}", err=True)
    raise SystemExit(2)


@click.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema and publish the scoring model."""
    settings = load_settings()
    engine = configured_engine(settings)
    upgrade(engine)
    try:
        with session_scope(engine) as session:
            version, _ = current_model(session=session)
            label = version.label
            if bulk.heal(session.connection()):
                click.echo("board index built again (a bulk run had been abandoned)")
    except UnicodeDecodeError as exc:
        raise click.ClickException(
            f"TASKING_MODEL_FILE {settings.model_file}: not UTF-8 text ({exc.reason})"
        ) from None
    except DomainError as exc:
        raise click.ClickException(
            f"TASKING_MODEL_FILE {settings.model_file}: {exc.message}"
        ) from None
    click.echo(f"database ready at {engine.url.render_as_string(hide_password=True)}")
    click.echo(f"current scoring model: {label}")


@click.command("check")
def check() -> None:
    """Check the settings, then that the database and the broker answer (exit 1 if one fails)."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        click.echo(f"settings FAILED: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo("settings ok")
    problems = 0
    try:
        with configured_engine(settings).connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        click.echo(f"database ok: {database_label()}")
    except Exception as exc:
        problems += 1
        click.echo(f"database FAILED: {explain(exc) or exc}", err=True)
    try:
        url = broker_url(settings)
        problem = broker_problem(url, settings.broker_timeout_s)
    except BrokerUnavailable as exc:
        problem = str(exc)
    if problem is None:
        click.echo(f"broker ok: {broker_label()}")
    else:
        problems += 1
        click.echo(f"broker FAILED: gone or unreachable ({broker_label()}): {problem}", err=True)
    if problems:
        raise SystemExit(1)


@click.command("create-user")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Full name shown in the app.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--unit", "unit_code", default=None, help="Unit code (required for BCU requesters).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def create_user(
    username: str, display_name: str, role: str, unit_code: str | None, password_stdin: bool
) -> None:
    """Add a user (the password is asked for, never passed as an argument)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise click.ClickException("the passwords differ")
    try:
        with session_scope(configured_engine()) as session:
            user = create_user_service(
                session=session, actor=None, username=username, display_name=display_name,
                role=role, password=password, unit_code=unit_code,
            )  # fmt: skip
            click.echo(f"created user {user.username} ({user.role})")
    except DomainError as exc:
        fail(exc)


@click.command()
@click.option(
    "--chunk", "chunk_size", type=click.IntRange(min=1), default=50_000, show_default=True,
    help="Cases per chunk.",
)  # fmt: skip
@click.option("--queue", is_flag=True, help="Hand the rescore to the workers instead.")
@click.option(
    "--filter", "board_filter", default=None,
    help='With --queue: only one board, e.g. \'{"asset_type": "surveillance"}\'.',
)  # fmt: skip
def rescore(chunk_size: int, queue: bool, board_filter: str | None) -> None:
    """Rescore every open case now (inline, vectorised), or queue it for the workers."""
    if queue:
        target = board_filter or "all"
        if target != "all":
            try:
                parsed = json.loads(target)
                if not isinstance(parsed, dict):
                    raise ValueError('a JSON object is needed, e.g. {"bcu_id": 3}')
                filter_sql(parsed)
            except (ValueError, DomainError) as exc:
                raise click.BadParameter(str(exc), param_hint="--filter") from None
        send("scoring.rescore_queue", target, "on demand", "rescore")
        click.echo("rescore queued for the workers; see `tasking runs`")
        return
    if board_filter:
        raise click.BadParameter("board filters need --queue", param_hint="--filter")
    settings = load_settings()
    stats = rescore_all(
        engine=configured_engine(settings),
        reason="rescore",
        chunk_size=chunk_size,
        bulk_min=settings.bulk_rescore_min,
    )
    rate = stats.cases / stats.seconds if stats.seconds else 0.0
    click.echo(
        f"rescored {stats.cases:,} open cases in {stats.seconds:.2f} s ({rate:,.0f} cases/s):"
        f" {stats.changed:,} changed, {stats.band_changes:,} changed band"
    )
