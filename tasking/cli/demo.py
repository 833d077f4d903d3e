"""`tasking seed-demo`: load the fictional demo organisation and cases."""

from __future__ import annotations

import os

import click

from config.settings import load_settings
from tasking.db import engine_from_settings, session_scope
from tasking.migrate import upgrade
from tasking.services.demo import is_seeded, seed_demo


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Load the fictional demo (units, users, assets, themes, 16 cases); prints sign-ins once."""
    settings = load_settings()
    engine = engine_from_settings(settings)
    upgrade(engine)
    with session_scope(engine) as session:
        if is_seeded(session):
            click.echo("demo data already present: nothing loaded")
            return
        logins = seed_demo(session=session)
    # Kept beside the embedded database (owner-only) so `make run` can show them again.
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    logins_file = settings.instance_path / "demo-logins.txt"
    fd = os.open(logins_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(f"{user} {password}\n" for user, password in logins.items())
    click.echo("demo loaded: 16 fictional cases. Demo sign-ins (shown once, also in")
    click.echo(f"{logins_file}):")
    for user, password in logins.items():
        click.echo(f"  {user:<12} {password}")
