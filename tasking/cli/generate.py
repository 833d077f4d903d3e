"""`tasking generate`: bulk fictional cases for benchmarks and for a board under load."""

from __future__ import annotations

import time

import click
from tqdm import tqdm

from tasking.cli.db import configured_engine
from tasking.services.errors import DomainError
from tasking.services.generator import generate_cases


@click.command()
@click.option(
    "--cases", "count", type=click.IntRange(min=1), required=True, help="How many cases to add."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=50_000,
    show_default=True,
    help="Cases per transaction.",
)
def generate(count: int, seed: int, batch: int) -> None:
    """Add N fictional, scored cases (--cases N) to the database; run `tasking seed-demo` first."""
    engine = configured_engine()
    started = time.perf_counter()
    try:
        # The bar goes to stderr and hides itself when stderr is not a terminal.
        with tqdm(total=count, unit="case", unit_scale=True, disable=None) as bar:

            def advance(cases: int) -> None:
                bar.update(cases)

            generate_cases(engine=engine, count=count, seed=seed, batch=batch, progress=advance)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        engine.dispose()
    seconds = time.perf_counter() - started
    rate = count / seconds if seconds else 0.0
    click.echo(f"generated {count:,} fictional cases in {seconds:.1f} s ({rate:,.0f} cases/s)")
