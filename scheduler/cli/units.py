"""Parsing of the human units the CLI accepts: durations, deadlines, power and energy.

Pure functions, no I/O. Each raises ``UnitError`` (a ``ValueError``) whose one-line message
shows the bad text and an accepted form, e.g.::

    parse_duration_s("6h") == 21600          parse_power_w("250W") == 250.0
    parse_duration_s("1h30m") == 5400        parse_energy_kwh("40kWh") == 40.0
    parse_deadline("+36h", now=now)          parse_deadline("2026-11-28T08:00Z", now=now)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(d|h|m|s)")
_SECONDS_PER = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_NUMBER_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_WATTS_PER = {"w": 1.0, "kw": 1_000.0, "": 1.0}
_KWH_PER = {"kwh": 1.0, "wh": 0.001, "mwh": 1_000.0, "": 1.0}


class UnitError(ValueError):
    """A value the CLI could not read; the message shows an accepted form."""


def parse_duration_s(text: str) -> int:
    """Seconds in a duration such as ``6h``, ``90m``, ``1h30m``, ``2d`` or ``45s``."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(value + unit for value, unit in parts) != compact:
        raise UnitError(f"cannot read duration {text!r}; use e.g. 6h, 90m, 1h30m or 2d")
    seconds = round(sum(float(value) * _SECONDS_PER[unit] for value, unit in parts))
    if seconds <= 0:
        raise UnitError(f"duration {text!r} must be longer than 0; use e.g. 6h or 90m")
    return seconds


def parse_deadline(text: str, *, now: datetime) -> datetime:
    """An aware UTC datetime from ``+36h`` (relative to ``now``) or ``2026-11-28T08:00Z``."""
    stripped = text.strip()
    if stripped.startswith("+"):
        try:
            return now.astimezone(UTC) + timedelta(seconds=parse_duration_s(stripped[1:]))
        except UnitError:
            raise UnitError(
                f"cannot read deadline {text!r}; use a relative time such as +36h "
                "or an absolute one such as 2026-11-28T08:00Z"
            ) from None
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        raise UnitError(
            f"cannot read deadline {text!r}; use 2026-11-28T08:00Z or a relative time like +36h"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise UnitError(
            f"deadline {text!r} has no timezone; add one, e.g. 2026-11-28T08:00Z, or use +36h"
        )
    return moment.astimezone(UTC)


def _number_with_unit(text: str, units: dict[str, float], example: str, what: str) -> float:
    match = _NUMBER_UNIT.match(text)
    factor = units.get(match.group(2).lower()) if match else None
    if match is None or factor is None:
        raise UnitError(f"cannot read {what} {text!r}; use e.g. {example}")
    value = float(match.group(1)) * factor
    if value <= 0:
        raise UnitError(f"{what} {text!r} must be greater than 0; use e.g. {example}")
    return value


def parse_power_w(text: str) -> float:
    """Watts from ``250W``, ``0.3kW`` or a bare number of watts (``250``)."""
    return _number_with_unit(text, _WATTS_PER, "250W or 0.3kW", "power")


def parse_energy_kwh(text: str) -> float:
    """Kilowatt-hours from ``40kWh``, ``500Wh``, ``1.5MWh`` or a bare number of kWh."""
    return _number_with_unit(text, _KWH_PER, "40kWh or 500Wh", "energy")


def parse_zones(text: str) -> tuple[str, ...]:
    """Zone ids from ``DE,FR,GB`` (spaces ignored, upper-cased is up to the caller)."""
    zones = tuple(part.strip() for part in text.split(",") if part.strip())
    if not zones:
        raise UnitError(f"cannot read zones {text!r}; use e.g. DE,FR,GB")
    return zones
