"""``carbonshift config``: show and validate settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from scheduler.cli.state import EXIT_USAGE, fail, state
from scheduler.errors import ConfigError
from scheduler.settings import load_settings
from scheduler.wiring import default_registries, effective_settings, plugin_problems

app = typer.Typer(help="Show and validate settings.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of YAML.")] = False,
) -> None:
    """Print the effective settings (file + environment + defaults); secrets are masked."""
    settings = state(ctx).settings()
    try:
        data = effective_settings(settings, default_registries())
    except ConfigError as exc:
        fail(str(exc), code=EXIT_USAGE)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


@app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="Settings file to check.", exists=False)],
) -> None:
    """Check a settings file (with the environment applied); exit 2 listing every problem."""
    try:
        settings = load_settings(file)
    except ConfigError as exc:
        fail(str(exc), code=EXIT_USAGE)
    problems = plugin_problems(settings, default_registries())
    if problems:
        fail(f"{file}: {len(problems)} problem(s)\n  - " + "\n  - ".join(problems), code=EXIT_USAGE)
    Console().print(f"{file}: valid", highlight=False)
