"""structlog configuration for long-running commands: JSON lines, or console on a TTY.

Call ``configure_logging`` once, from the CLI. Service code binds ``job_id`` and ``attempt``
to its loggers, so every line about a job carries them, and names them under
``carbonshift.`` (``structlog.get_logger("carbonshift.service")``). The log level applies to
those and to the packages' stdlib loggers (``OWN_LOGGERS``); other libraries write only their
warnings and errors unless it is ``debug``.

Everything goes through one stdlib handler: structlog's own events and the records of
libraries that log through ``logging`` (APScheduler, uvicorn) are rendered by the same
``ProcessorFormatter`` and written under the handler's lock, one ``write`` per line. Two
writers on one stream from two threads (structlog's ``print`` writes the line and its
newline separately) once cut a JSON line in half with an APScheduler warning.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

#: the stdlib loggers of carbonshift: those above its structlog loggers
#: (``carbonshift.service`` …) and its packages' (``scheduler.api.errors`` …)
OWN_LOGGERS = ("carbonshift", "scheduler", "plugins", "forecasts")
#: the least level at which other libraries' records are written, below ``debug``
LIBRARY_LEVEL = logging.WARNING


def configure_logging(
    level: str = "info", *, json: bool | None = None, stream: TextIO | None = None
) -> None:
    """Log at ``level`` to ``stream`` (stderr): JSON unless it is a TTY and ``json`` is unset.

    Replaces the root logger's handlers, so calling it again (a test, a second command in
    one process) re-targets every logger instead of writing each line twice.
    """
    stream = stream or sys.stderr
    as_json = not stream.isatty() if json is None else json
    threshold = LEVELS.get(level, logging.ERROR)
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    rendering: list[structlog.typing.Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta
    ]
    if as_json:
        rendering += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        rendering.append(structlog.dev.ConsoleRenderer())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=rendering,
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    # libraries (APScheduler logs two info lines per tick, alembic each migration step) speak
    # from WARNING on, unless asked for debug; carbonshift's own loggers at ``level``
    root.setLevel(threshold if threshold <= logging.DEBUG else max(threshold, LIBRARY_LEVEL))
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(threshold)
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
