"""`tasking audit`: check that the audit log is whole, and print a checkpoint to keep.

`tasking audit verify` walks the hash chain from the first row (or, with
`--since-last`, from where the last good walk ended) and names the first row
altered, removed or moved; it exits 1 if it finds one. `--checkpoint SEQ:HASH`
(printed earlier by `tasking audit checkpoint` and kept outside the database)
also checks that the chain still reaches that row with that hash: a chain
rewritten from an edited row onwards passes the links but fails the checkpoint.
A long chain is walked in stretches by several processes at once (`--workers`,
by default one a CPU up to 4); the row named is the same as one walk's.
"""

from __future__ import annotations

import os
import sys
import time

import click

from tasking.cli.db import configured_engine
from tasking.services import audit


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log: verify the chain, print a checkpoint."""


@audit_group.command("verify")
@click.option("--checkpoint", "checkpoint", default=None, help="SEQ:HASH the chain must reach.")
@click.option("--since-last", is_flag=True, help="Only the rows after the last good walk.")
@click.option("--record", is_flag=True, help="Keep the result (as the nightly run does).")
@click.option(
    "--workers",
    type=click.IntRange(1, 16),
    default=lambda: min(os.cpu_count() or 1, 4),
    show_default="the CPUs, at most 4",
    help="Processes walking stretches of the chain at once (1: one walk).",
)
def verify_command(checkpoint: str | None, since_last: bool, record: bool, workers: int) -> None:
    """Walk the chain; exit 1 naming the first broken, missing or reordered row."""
    try:
        mark = audit.parse_checkpoint(checkpoint) if checkpoint else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--checkpoint") from None
    engine = configured_engine()
    started = time.perf_counter()
    with engine.connect() as conn:
        after_seq, after_hash = (
            audit.last_good_verification(conn) if since_last else (0, audit.GENESIS)
        )
        verdict = audit.verify(
            conn, after_seq=after_seq, after_hash=after_hash, checkpoint=mark, workers=workers
        )
    seconds = time.perf_counter() - started
    if record:
        from tasking.db import session_scope

        with session_scope(engine) as session:
            audit.record_verification(session, verdict, origin="cli")
    engine.dispose()
    rate = verdict.rows / seconds if seconds > 0 else 0.0
    if verdict.ok:
        click.echo(
            f"audit chain good: rows {verdict.from_seq} to {verdict.through_seq}"
            f" ({verdict.rows} checked in {seconds:.1f} s, {rate:,.0f} rows/s);"
            f" last link {verdict.through_seq}:{verdict.through_hash}"
        )
        return
    click.echo(f"AUDIT CHAIN BROKEN: {verdict.problem}", err=True)
    click.echo(f"good through row {verdict.through_seq} ({verdict.rows} rows checked)", err=True)
    sys.exit(1)


@audit_group.command("checkpoint")
def checkpoint_command() -> None:
    """Print the last link as SEQ:HASH: keep it outside the database (e.g. in the run book)."""
    engine = configured_engine()
    with engine.connect() as conn:
        seq, digest = audit.chain_head(conn)
    engine.dispose()
    click.echo(f"{seq}:{digest}")
