"""`tasking token create|list|revoke`: API tokens on the host (an operator acts as admin).

`create USERNAME` prints the new token alone on its last line, once; only its
hash is stored.
"""

from __future__ import annotations

import click
from sqlmodel import select

from config.settings import load_settings
from tasking.db import engine_from_settings, session_scope
from tasking.models import User, utcnow
from tasking.services.errors import DomainError
from tasking.services.tokens import (
    DEFAULT_DAYS,
    MAX_DAYS,
    create_token,
    is_live,
    list_tokens,
    revoke_token,
)


@click.group("token")
def token() -> None:
    """API tokens (Authorization: Bearer TOKEN on /api/v1)."""


@token.command("create")
@click.argument("username")
@click.option(
    "--days",
    type=click.IntRange(1, MAX_DAYS),
    default=DEFAULT_DAYS,
    show_default=True,
    help="How many days the token is valid.",
)
@click.option("--name", default="command line", show_default=True, help="A name to tell it by.")
def create(username: str, days: int, name: str) -> None:
    """Create an API token for USERNAME; the token alone is printed on the last line, once."""
    engine = engine_from_settings(load_settings())
    try:
        with session_scope(engine) as session:
            user = session.exec(select(User).where(User.username == username)).first()
            if user is None:
                raise click.ClickException(f"no user {username!r}")
            new = create_token(
                session=session, actor=None, owner_id=user.id or 0, name=name, days=days
            )
            expires = new.token.expires_at
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        engine.dispose()
    click.echo(f"API token for {username}, valid until {expires:%Y-%m-%d %H:%M} UTC.", err=True)
    click.echo("It is shown only now: keep it like a password.", err=True)
    click.echo(new.secret)


@token.command("list")
@click.argument("username")
def list_command(username: str) -> None:
    """List USERNAME's tokens: id, name, start of the token, expiry, last use, status."""
    engine = engine_from_settings(load_settings())
    try:
        with session_scope(engine, write=False) as session:
            user = session.exec(select(User).where(User.username == username)).first()
            if user is None:
                raise click.ClickException(f"no user {username!r}")
            rows = list_tokens(session=session, actor=None, owner_id=user.id or 0)
    finally:
        engine.dispose()
    now = utcnow()
    if not rows:
        click.echo(f"{username} has no API tokens")
    for row in rows:
        status = "revoked" if row.revoked_at else "active" if is_live(row, now) else "expired"
        used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
        click.echo(
            f"#{row.id} {row.name!r} {row.prefix}... expires {row.expires_at:%Y-%m-%d},"
            f" last used {used}: {status}"
        )


@token.command("revoke")
@click.argument("token_id", type=int)
def revoke_command(token_id: int) -> None:
    """Revoke the token with this id at once (see `tasking token list`)."""
    engine = engine_from_settings(load_settings())
    try:
        with session_scope(engine) as session:
            row = revoke_token(session=session, actor=None, token_id=token_id)
            name = row.name
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        engine.dispose()
    click.echo(f"token #{token_id} {name!r} revoked")
