"""The `tasking` command line: one click group, one module per area of commands."""

from __future__ import annotations

import click

from tasking.cli import db, demo, generate, runs, score


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Specialist crime tasking: scoring, database and demo commands."""


main.add_command(score.score)
main.add_command(db.init_db)
main.add_command(db.create_user)
main.add_command(db.rescore)
main.add_command(demo.seed_demo_command)
main.add_command(runs.model)
main.add_command(runs.runs)
main.add_command(generate.generate)
