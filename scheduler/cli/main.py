"""The ``carbonshift`` command: global options, then one subcommand per task."""

from __future__ import annotations

from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Annotated

import typer

from scheduler.cli import (
    agent,
    config,
    demo,
    forecast,
    jobs,
    ledger,
    report,
    savings,
    serve,
    simulate,
    token,
)
from scheduler.cli.state import CliState

app = typer.Typer(
    name="carbonshift",
    help=(
        "Carbon-aware batch scheduler for GPU clusters: runs deferrable training jobs in the "
        "greenest feasible window and region, never missing a deadline."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.add_typer(config.app, name="config")
app.add_typer(forecast.app, name="forecast")
app.command("simulate")(simulate.simulate_command)
app.command("demo")(demo.demo_command)
app.add_typer(ledger.app, name="ledger")
app.command("savings")(savings.savings)
app.command("report")(report.report)
app.add_typer(agent.app, name="agent")
app.add_typer(token.app, name="token")
app.command("serve")(serve.serve_command)
jobs.register(app)  # submit, status, list, cancel, cap: the REST API's client


@app.callback()
def global_options(
    ctx: typer.Context,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="CARBONSHIFT_CONFIG",
            help="Settings file (YAML). Default: ./carbonshift.yaml if present.",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="CARBONSHIFT_DATA_DIR",
            help="Where the SQLite database and local state live. Default: per-user data dir.",
        ),
    ] = None,
) -> None:
    """Global options apply to every command."""
    ctx.obj = CliState(config_file=config_file, data_dir=data_dir)


@app.command("version")
def version() -> None:
    """Print the carbonshift version."""
    typer.echo(f"carbonshift {dist_version('carbonshift')}")


def main() -> None:
    """Console-script entry point."""
    app()
