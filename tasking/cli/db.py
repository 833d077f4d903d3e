"""Database commands: init-db, create-user, rescore."""

from __future__ import annotations

import getpass
import json
import sys
from typing import NoReturn

import click
from sqlalchemy import Engine

from config.settings import Settings, load_settings
from tasking.db import engine_from_settings, session_scope
from tasking.migrate import upgrade
from tasking.models import Role
from tasking.services import bulk
from tasking.dispatch import send
from tasking.services.errors import DomainError
from tasking.services.rescore import filter_sql, rescore_all
from tasking.services.scores import current_model
from tasking.services.users import create_user as create_user_service


def configured_engine(settings: Settings | None = None) -> Engine:
    """The engine for the configured database."""
    return engine_from_settings(settings or load_settings())


def fail(exc: DomainError) -> NoReturn:
    """Report a refused operation on stderr and exit non-zero."""
    click.echo(f"error: {exc.message}", err=True)
    for name, reason in exc.fields.items():
        click.echo(f"  {name}: {reason}", err=True)
    raise SystemExit(2)


@click.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema and publish the scoring model."""
    engine = configured_engine()
    upgrade(engine)
    with session_scope(engine) as session:
        version, _ = current_model(session=session)
        label = version.label
        if bulk.heal(session.connection()):
            click.echo("board index built again (a bulk run had been abandoned)")
    click.echo(f"database ready at {engine.url.render_as_string(hide_password=True)}")
    click.echo(f"current scoring model: {label}")


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
@click.option("--chunk", "chunk_size", default=50_000, show_default=True, help="Cases per chunk.")
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
                filter_sql(json.loads(target))
            except (ValueError, DomainError) as exc:
                raise click.BadParameter(str(exc), param_hint="--filter") from None
        send("scoring.rescore_queue", target, "on demand", "rescore")
        click.echo("rescore queued for the workers; see `tasking runs`")
        return
    if board_filter:
        raise click.BadParameter("board filters need --queue", param_hint="--filter")
    settings = load_settings()
    stats = rescore_all(
        engine=configured_engine(settings), reason="rescore", chunk_size=chunk_size,
        bulk_min=settings.bulk_rescore_min,
    )  # fmt: skip
    rate = stats.cases / stats.seconds if stats.seconds else 0.0
    click.echo(
        f"rescored {stats.cases:,} open cases in {stats.seconds:.2f} s ({rate:,.0f} cases/s):"
        f" {stats.changed:,} changed, {stats.band_changes:,} changed band"
    )
