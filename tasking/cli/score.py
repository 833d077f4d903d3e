"""`tasking score`: score MoRiLE vectors from the command line."""

from __future__ import annotations

import click


@click.command()
@click.argument("vectors", nargs=-1)
def score(vectors: tuple[str, ...]) -> None:
    """Score VECTORS (or one vector per line on stdin)."""
    raise click.ClickException("not yet written")
