"""`tasking model ...` (store, preview, publish scoring models) and `tasking runs`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func
from sqlmodel import Session, col, select

import scoring
from config.settings import load_settings
from tasking.cli.db import configured_engine, fail
from tasking.cli.errors import broker_label
from tasking.db import session_scope
from tasking.dispatch import enqueue_after_commit, send
from tasking.models import CaseScore, ModelVersion, ScoringRun, User, pk
from tasking.services import outbox
from tasking.services.errors import DomainError
from tasking.services.rescore import rescore_all
from tasking.services.scores import publish_model_version, store_model_text
from tasking.services.whatif import run_whatif

# model_version.version is an INTEGER column (32 bits on PostgreSQL).
MAX_MODEL_VERSION = 2**31 - 1


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
    content = read_model_file(path)
    try:
        with session_scope(configured_engine()) as session:
            row = store_model_text(session=session, content=content)
            click.echo(f"stored model {row.label} as version id {row.id} (not current)")
    except DomainError as exc:
        fail(exc)


def read_model_file(path: Path) -> str:
    """A model file's text, checked to fit the database; one line (ClickException) if not."""
    try:
        content = path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"model file {path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise click.ClickException(f"model file {path}: {exc.strerror}") from None
    try:
        version = scoring.load_model_text(content, source=str(path)).version
    except scoring.ModelError as exc:
        raise click.ClickException(f"bad model file {path}: {exc}") from None
    if not 1 <= version <= MAX_MODEL_VERSION:
        raise click.ClickException(
            f"model file {path}: version {version} is out of range (1 to {MAX_MODEL_VERSION})"
        )
    return content


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
            if admin is None:  # the service checks that they may publish
                raise click.ClickException(f"no user {admin_name!r}")
            row = publish_model_version(session=session, version_id=version_id, actor=admin)
            label = row.label
            # In the same transaction: the model and its rescore commit (or not) together.
            task = None
            if not inline:
                task = enqueue_after_commit(
                    session, "scoring.rescore_queue", "all", "model published", "model"
                )
    except DomainError as exc:
        fail(exc)
    click.echo(f"{label} is now current")
    if inline:
        stats = rescore_all(engine=engine, reason="model", bulk_min=settings.bulk_rescore_min)
        click.echo(f"rescored {stats.cases:,} open cases: {stats.changed:,} changed")
    elif task is not None and outbox.unsent(engine=engine, ids=[pk(task)]):
        click.echo(
            f"warning: the broker did not take the rescore ({broker_label()}); it is kept"
            " and the beat sends it when the broker answers; see `tasking runs`",
            err=True,
        )
    else:
        click.echo("rescore queued for the workers; see `tasking runs`")


@click.command()
@click.option("--limit", default=10, show_default=True, help="How many recent runs.")
@click.option("--id", "run_id", type=int, help="One run, with every mover and review listed.")
@click.option("--json", "as_json", is_flag=True, help="The stored summaries as JSON.")
def runs(limit: int, run_id: int | None, as_json: bool) -> None:
    """Recent scoring runs: counts per band, movers and why, duration, review lists."""
    with session_scope(configured_engine(), write=False) as session:
        query = select(ScoringRun).order_by(col(ScoringRun.id).desc()).limit(limit)
        if run_id is not None:
            query = select(ScoringRun).where(col(ScoringRun.id) == run_id)
        rows = session.exec(query).all()
        if run_id is not None and not rows:
            raise click.ClickException(f"no scoring run {run_id}")
        if as_json:
            click.echo(json.dumps([_run_json(run) for run in rows], indent=2, default=str))
            return
        for line in waiting_work(session):
            click.echo(line)
        if not rows:
            click.echo(
                "no scoring runs yet: the nightly run, `tasking rescore --queue`, publishing"
                " a model and a what-if preview each record one"
            )
        for run in rows:
            for line in describe_run(run, every=run_id is not None):
                click.echo(line)


def waiting_work(session: Session) -> list[str]:
    """Warnings first: tasks the broker has not taken yet, and scores under an older model."""
    lines = []
    for row in outbox.pending(session=session):
        why = f" ({row.last_error})" if row.last_error else ""
        lines.append(
            f"! not yet sent: {row.task_name} {row.args}, kept since"
            f" {row.created_at:%Y-%m-%d %H:%M}, tried {row.attempts} times{why}"
        )
    current = session.exec(select(ModelVersion).where(col(ModelVersion.is_current))).first()
    if current is not None:
        older = session.exec(
            select(func.count())
            .select_from(CaseScore)
            .where(col(CaseScore.on_board), col(CaseScore.model_version_id) != current.id)
        ).one()
        if older:
            lines.append(
                f"! model {current.label} is current but {older:,} open cases are still"
                " scored under an older model: its rescore has not run (or has not finished)"
            )
    return lines


def _run_json(run: ScoringRun) -> dict[str, Any]:
    fields = (
        "id", "kind", "run_date", "status", "reason", "error", "started_at", "finished_at",
        "chunks_total", "chunks_done", "cases_total", "cases_changed", "band_changes",
    )  # fmt: skip
    return {**{name: getattr(run, name) for name in fields}, "summary": json.loads(run.summary)}


# Movers, rank moves and review ids listed per run unless one run is asked for in full.
BRIEF = 3


def describe_run(run: ScoringRun, *, every: bool = False) -> list[str]:
    """A run as a few readable lines; `every` lists all movers and review ids, not the first."""
    summary: dict[str, Any] = json.loads(run.summary or "{}")
    shown = None if every else BRIEF
    day = f" {run.run_date}" if run.run_date else ""
    took = f" in {summary['seconds']:.1f} s" if "seconds" in summary else ""
    settled = summary.get("cases_settled")
    failed = f" ({run.error})" if run.error else ""
    lines = [
        f"#{run.id} {run.kind}{day} {run.status}{failed}{took}: {run.cases_total:,} cases"
        + (f" ({settled:,} settled, left unread)" if settled else "")
        + f", {run.cases_changed:,} changed, {run.band_changes:,} band changes,"
        f" chunks {run.chunks_done}/{run.chunks_total}"
    ]
    if "bands_before" in summary:  # a what-if preview
        lines.append(f"   model {summary['model']}: bands now {_bands(summary['bands_before'])}")
        lines.append(f"   would be {_bands(summary['bands_after'])}")
        moves = ", ".join(f"{k} {v:,}" for k, v in summary.get("transitions", {}).items())
        lines.append(f"   band changes: {moves or 'none'}")
        for move in summary.get("biggest_moves", [])[:shown]:
            lines.append(
                f"   case {move['case_id']}: rank {move['rank_before']} -> {move['rank_after']},"
                f" priority {move['priority_before']} -> {move['priority_after']}"
            )
        return lines
    if "bands" in summary:
        lines.append(f"   bands {_bands(summary['bands'])}")
    phases = summary.get("finish_phases")
    if phases:
        lines.append("   finishing: " + ", ".join(f"{k[:-2]} {v:.2f} s" for k, v in phases.items()))
    for mover in summary.get("movers", [])[:shown]:
        lines.append(f"   band move {mover['reference']}: {mover['why']}")
    for move in summary.get("rank_moves", [])[:shown]:
        lines.append(f"   rank move case {move['case_id']}: {move['why']}")
    for key, label in (("overdue_reviews", "overdue reviews"), ("retention_due", "retention due")):
        if key in summary:
            ids = summary[key]
            listed = ", ".join(str(i) for i in ids[:shown])
            if shown is not None and len(ids) > shown:
                listed += ", ..."
            lines.append(f"   {label}: {len(ids)}" + (f" (cases {listed})" if ids else ""))
    return lines


def _bands(counts: dict[str, int]) -> str:
    return ", ".join(f"{band} {n:,}" for band, n in counts.items())
