"""`tasking model ...` (store, preview, publish scoring models) and `tasking runs`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlmodel import col, select

from config.settings import load_settings
from tasking.cli.db import configured_engine, fail
from tasking.db import session_scope
from tasking.models import ModelVersion, Role, ScoringRun, User
from tasking.services.dispatch import enqueue_after_commit, send
from tasking.services.errors import DomainError
from tasking.services.rescore import rescore_all
from tasking.services.scores import publish_model_version, store_model_text
from tasking.services.whatif import run_whatif


@click.group()
def model() -> None:
    """Scoring model versions: store, preview (what-if) and publish."""


@model.command("list")
def list_models() -> None:
    """List stored model versions (* = current)."""
    with session_scope(configured_engine(), write=False) as session:
        for row in session.exec(select(ModelVersion).order_by(col(ModelVersion.id))).all():
            mark = "*" if row.is_current else " "
            click.echo(
                f"{mark} {row.id:>3}  {row.label:<24} {row.content_hash[:12]}"
                f"  {row.published_at:%Y-%m-%d %H:%M}"
            )


@model.command("store")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def store(path: Path) -> None:
    """Validate a model file and keep it as a version (not yet current)."""
    try:
        with session_scope(configured_engine()) as session:
            row = store_model_text(session=session, content=path.read_text("utf-8"))
            click.echo(f"stored model {row.label} as version id {row.id} (not current)")
    except DomainError as exc:
        fail(exc)


@model.command("whatif")
@click.argument("version_id", type=int)
@click.option("--queue", is_flag=True, help="Ask the workers instead of computing here.")
def whatif(version_id: int, queue: bool) -> None:
    """Show how the open cases would move under a stored model version (writes no score)."""
    if queue:
        send("scoring.whatif_preview", version_id)
        click.echo("what-if preview queued; see `tasking runs`")
        return
    try:
        run = run_whatif(engine=configured_engine(), model_version_id=version_id)
    except DomainError as exc:
        fail(exc)
    click.echo(json.dumps(json.loads(run.summary), indent=2))


@model.command("publish")
@click.argument("version_id", type=int)
@click.option("--admin", "admin_name", required=True, help="The administrator publishing it.")
@click.option("--inline", is_flag=True, help="Rescore here instead of through the workers.")
def publish(version_id: int, admin_name: str, inline: bool) -> None:
    """Make a model version current; every open case is then rescored under it."""
    settings = load_settings()
    engine = configured_engine(settings)
    try:
        with session_scope(engine) as session:
            admin = session.exec(select(User).where(User.username == admin_name)).first()
            if admin is None or admin.role != Role.ADMIN:
                raise click.ClickException(f"{admin_name!r} is not an administrator")
            row = publish_model_version(session=session, version_id=version_id, actor=admin)
            label = row.label
            if not inline:
                enqueue_after_commit(
                    session, "scoring.rescore_queue", "all", "model published", "model"
                )
    except DomainError as exc:
        fail(exc)
    click.echo(f"{label} is now current")
    if inline:
        stats = rescore_all(engine=engine, reason="model", bulk_min=settings.bulk_rescore_min)
        click.echo(f"rescored {stats.cases:,} open cases: {stats.changed:,} changed")
    else:
        click.echo("rescore queued for the workers; see `tasking runs`")


@click.command()
@click.option("--limit", default=10, show_default=True)
def runs(limit: int) -> None:
    """Recent scoring runs with their summaries (counts per band, movers, duration)."""
    with session_scope(configured_engine(), write=False) as session:
        rows = session.exec(
            select(ScoringRun).order_by(col(ScoringRun.id).desc()).limit(limit)
        ).all()
        for run in rows:
            day = f" {run.run_date}" if run.run_date else ""
            click.echo(
                f"#{run.id} {run.kind}{day} {run.status}: {run.cases_total:,} cases,"
                f" {run.cases_changed:,} changed, {run.band_changes:,} band changes,"
                f" chunks {run.chunks_done}/{run.chunks_total}"
            )
            summary = json.loads(run.summary)
            if summary:
                click.echo("   " + json.dumps(summary)[:400])
