"""`tasking generate`: bulk fictional cases for benchmarks and for a board under load."""

from __future__ import annotations

import time

import click
from tqdm import tqdm

from tasking.cli.db import configured_engine
from tasking.services.errors import DomainError
from tasking.services.generator import generate_cases

# A sane bound: ten times the largest board the benchmarks use (bench/).
MAX_CASES = 10_000_000


@click.command()
@click.option(
    "--cases",
    "count",
    type=click.IntRange(min=1, max=MAX_CASES),
    required=True,
    help=f"How many cases to add (at most {MAX_CASES:,}).",
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
    """Add N fictional, scored cases (--cases N) to the database; run `tasking seed-demo` first.

    Each batch is one transaction: stopped part-way (Ctrl-C), the batches already
    committed stay and nothing of the interrupted batch does.
    """
    engine = configured_engine()
    started = time.perf_counter()
    done = 0
    try:
        # The bar goes to stderr and hides itself when stderr is not a terminal.
        with tqdm(total=count, unit="case", unit_scale=True, disable=None) as bar:

            def advance(cases: int) -> None:
                nonlocal done
                done += cases  # called once a batch has committed
                bar.update(cases)

            generate_cases(engine=engine, count=count, seed=seed, batch=batch, progress=advance)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    except KeyboardInterrupt:
        click.echo(
            f"interrupted: {done:,} of {count:,} cases added, in whole batches of {batch:,};"
            " nothing of the interrupted batch was kept",
            err=True,
        )
        raise SystemExit(130) from None
    finally:
        engine.dispose()
    seconds = time.perf_counter() - started
    rate = count / seconds if seconds else 0.0
    click.echo(f"generated {count:,} fictional cases in {seconds:.1f} s ({rate:,.0f} cases/s)")
