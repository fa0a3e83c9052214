"""Reading ``--since`` / ``--until`` for the ledger and savings commands."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from scheduler.cli.units import UnitError, parse_duration_s


def parse_instant(text: str, *, now: datetime, option: str) -> datetime:
    """An aware UTC instant from ``7d`` / ``-12h`` (that long before ``now``), ``2026-11-01``
    (midnight UTC) or ``2026-11-01T08:00Z``."""
    stripped = text.strip()
    relative = stripped.removeprefix("-")
    if relative and relative[0].isdigit() and relative[-1].isalpha():
        try:
            return now - timedelta(seconds=parse_duration_s(relative))
        except UnitError:
            pass
    try:
        if len(stripped) == 10:
            return datetime.combine(date.fromisoformat(stripped), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise UnitError(
            f"cannot read {option} {text!r}; use a span back from now such as 7d or 12h, a "
            "date such as 2026-11-01, or a time with a zone such as 2026-11-01T08:00Z"
        )
    return moment.astimezone(UTC)
