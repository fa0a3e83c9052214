"""What every subcommand shares: the global options and lazily loaded settings."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from scheduler.errors import CarbonshiftError, ConfigError
from scheduler.settings import Settings, load_settings

#: Exit status for invalid settings or arguments (like a usage error).
EXIT_USAGE = 2
#: Exit status for a fault at run time.
EXIT_FAULT = 1

#: ``--log-json/--log-console`` of the long-running commands (``serve``, ``agent run``)
LogJson = Annotated[
    bool | None,
    typer.Option("--log-json/--log-console", help="Log format. Default: JSON unless a TTY."),
]


@dataclass
class CliState:
    """Global options, and the settings loaded on first use."""

    config_file: Path | None = None
    data_dir: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """Settings from file and environment, with ``--data-dir`` applied; exit 2 if bad."""
        if self._settings is None:
            overrides = {} if self.data_dir is None else {"data_dir": self.data_dir}
            try:
                self._settings = load_settings(self.config_file, **overrides)
            except ConfigError as exc:
                fail(str(exc), code=EXIT_USAGE)
        return self._settings


def state(ctx: typer.Context) -> CliState:
    """The ``CliState`` of the running command."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        obj = CliState()
        ctx.find_root().obj = obj
    return obj


err_console = Console(stderr=True)


def fail(message: str, *, code: int = EXIT_FAULT) -> NoReturn:
    """Print ``message`` to stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def fail_on(exc: CarbonshiftError) -> NoReturn:
    """Exit for a carbonshift fault: 2 for configuration, 1 otherwise."""
    fail(str(exc), code=EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAULT)


def is_tty() -> bool:
    """True when stdout is a terminal (tables, colours, progress bars)."""
    return sys.stdout.isatty()
