"""The `tasking` command line: one click group, one module per area of commands."""

from __future__ import annotations

from typing import Any

import click

from tasking.cli import audit, db, demo, generate, runs, score, serve, token
from tasking.cli.errors import one_line_errors


class _Main(click.Group):
    """The command group: known failures of configuration or reach end in one line."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, translating a bad or unreachable setting into one `Error:` line."""
        with one_line_errors():
            return super().invoke(ctx)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Specialist crime tasking: scoring, database and demo commands."""


main.add_command(score.score)
main.add_command(db.init_db)
main.add_command(db.create_user)
main.add_command(db.rescore)
main.add_command(db.check)
main.add_command(demo.seed_demo_command)
main.add_command(runs.model)
main.add_command(runs.runs)
main.add_command(generate.generate)
main.add_command(serve.run)
main.add_command(token.token)
main.add_command(audit.audit_group)
