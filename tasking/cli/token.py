"""`tasking token create USERNAME`: an API token for a user, printed once."""

from __future__ import annotations

import click
from sqlmodel import select

from config.settings import load_settings
from tasking.db import engine_from_settings, session_scope
from tasking.models import User
from tasking.services.errors import DomainError
from tasking.services.tokens import DEFAULT_DAYS, MAX_DAYS, create_token


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
