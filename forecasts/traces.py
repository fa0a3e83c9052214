"""Carbon-intensity trace files: strict loaders for the two CSV formats of the simulator.

Both formats of ``../shared/scenarios/FORMATS.md`` are read:

* the **Electricity Maps export** (columns ``Datetime (UTC)``, ``Zone Id``,
  ``Carbon Intensity gCO₂eq/kWh (LCA)``, ``Carbon Intensity gCO₂eq/kWh (direct)``); its
  timestamps may be naive because the column itself says UTC; ``signal`` picks the column;
* the **long format** ``datetime,zone,g_per_kwh``, whose timestamps must carry an offset.

Each value holds from its timestamp until the next one; the last one holds for the step
before it (one hour for a single row). Files may hold several zones, and one zone may be
spread over several files (one per year, say): :func:`load_carbon_traces` merges them.

Every problem raises :class:`scheduler.errors.ScenarioError` naming the file, the line, the
bad value and the fix. Example::

    traces = load_carbon_traces([Path("carbon-de.csv")], signal="lca")
    traces["DE"].g_per_kwh[:4]
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np

from scheduler.errors import ScenarioError
from scheduler.model import IntensityTrace

Signal = Literal["lca", "direct"]
SIGNALS: tuple[Signal, ...] = ("lca", "direct")

LONG_COLUMNS = ("datetime", "zone", "g_per_kwh")
EM_TIME = "Datetime (UTC)"
EM_ZONE = "Zone Id"
EM_VALUE = {
    "lca": "Carbon Intensity gCO₂eq/kWh (LCA)",
    "direct": "Carbon Intensity gCO₂eq/kWh (direct)",
}
_DEFAULT_LAST_STEP_S = 3600


@dataclass(frozen=True, kw_only=True, slots=True)
class _Row:
    at_s: int
    value: float
    where: str


def load_carbon_traces(
    paths: Iterable[Path], *, signal: Signal = "lca"
) -> dict[str, IntensityTrace]:
    """Read every file and merge their zones; one zone may span several files.

    Raises:
        ScenarioError: a file is missing or malformed, or two files give the same zone and time.
    """
    rows: dict[str, list[_Row]] = {}
    for path in paths:
        for zone, zone_rows in _read_rows(Path(path), signal).items():
            rows.setdefault(zone, []).extend(zone_rows)
    if not rows:
        raise ScenarioError("no carbon-intensity file given; pass at least one CSV file")
    return {zone: _trace(zone, zone_rows) for zone, zone_rows in sorted(rows.items())}


def read_carbon_csv(path: Path, *, signal: Signal = "lca") -> dict[str, IntensityTrace]:
    """Read one file (either format) into one trace per zone."""
    return load_carbon_traces([path], signal=signal)


def trace_from_series(
    zone: str, starts: Sequence[datetime], g_per_kwh: Sequence[float], *, step_s: int | None = None
) -> IntensityTrace:
    """A trace from aware datetimes and values; the last holds ``step_s`` (or the last gap)."""
    start_s = np.array([int(_aware(t, zone).timestamp()) for t in starts], dtype=np.int64)
    values = np.asarray(g_per_kwh, dtype=np.float64)
    return IntensityTrace(
        zone=zone, start_s=start_s, g_per_kwh=values, end_s=_end_s(start_s, step_s)
    )


def _aware(value: datetime, zone: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"trace for {zone}: {value.isoformat()} has no timezone; give UTC")
    return value.astimezone(UTC)


def _end_s(start_s: np.ndarray, step_s: int | None) -> int:
    if step_s is not None:
        return int(start_s[-1]) + step_s
    last_step = int(start_s[-1] - start_s[-2]) if len(start_s) > 1 else _DEFAULT_LAST_STEP_S
    return int(start_s[-1]) + last_step


def _read_rows(path: Path, signal: Signal) -> dict[str, list[_Row]]:
    if signal not in SIGNALS:
        raise ScenarioError(f"unknown signal {signal!r}; choose one of: {', '.join(SIGNALS)}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = _columns(path, reader.fieldnames, signal)
            return _parse(path, reader, columns)
    except OSError as exc:
        raise ScenarioError(
            f"{path}: cannot read the carbon file ({exc.strerror}); check the path"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not a UTF-8 CSV file; export it as CSV (UTF-8)") from exc


def _columns(
    path: Path, header: Sequence[str] | None, signal: Signal
) -> tuple[str, str, str, bool]:
    """(time, zone, value, naive_is_utc) column names for the file's format."""
    found = [name.strip() for name in header or ()]
    if all(column in found for column in LONG_COLUMNS):
        return "datetime", "zone", "g_per_kwh", False
    em_value = EM_VALUE[signal]
    if EM_TIME in found and EM_ZONE in found:
        if em_value not in found:
            raise ScenarioError(
                f"{path}: Electricity Maps export lacks the column {em_value!r} for "
                f"--signal {signal}; choose the other signal or re-export with that column"
            )
        return EM_TIME, EM_ZONE, em_value, True
    raise ScenarioError(
        f"{path}: unknown carbon CSV header {found}; expected the long format "
        f"{','.join(LONG_COLUMNS)} or an Electricity Maps export with {EM_TIME!r}, "
        f"{EM_ZONE!r} and {em_value!r}"
    )


def _parse(
    path: Path, reader: csv.DictReader[str], columns: tuple[str, str, str, bool]
) -> dict[str, list[_Row]]:
    time_col, zone_col, value_col, naive_is_utc = columns
    rows: dict[str, list[_Row]] = {}
    for record in reader:
        where = f"{path}:{reader.line_num}"
        zone = (record.get(zone_col) or "").strip()
        if not zone:
            raise ScenarioError(f"{where}: empty {zone_col!r}; every row needs its zone id")
        at_s = _parse_time(where, record.get(time_col), naive_is_utc)
        value = _parse_value(where, value_col, record.get(value_col))
        rows.setdefault(zone, []).append(_Row(at_s=at_s, value=value, where=where))
    if not rows:
        raise ScenarioError(f"{path}: no data rows below the header; the file is empty")
    return rows


def _parse_time(where: str, raw: str | None, naive_is_utc: bool) -> int:
    text = (raw or "").strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ScenarioError(
            f"{where}: bad datetime {text!r}; use ISO 8601 with an offset, "
            "e.g. 2020-01-06T09:30:00+00:00"
        ) from None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise ScenarioError(
                f"{where}: datetime {text!r} has no UTC offset; write it as "
                f"{text.replace(' ', 'T')}+00:00"
            )
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def _parse_value(where: str, column: str, raw: str | None) -> float:
    text = (raw or "").strip()
    try:
        value = float(text)
    except ValueError:
        raise ScenarioError(
            f"{where}: {column!r} is {text!r}, not a number; give grams CO2e per kWh, e.g. 312.5"
        ) from None
    if not np.isfinite(value) or value < 0:
        raise ScenarioError(f"{where}: {column!r} is {text!r}; it must be finite and ≥ 0")
    return value


def _trace(zone: str, rows: list[_Row]) -> IntensityTrace:
    rows.sort(key=lambda row: row.at_s)
    for before, after in itertools.pairwise(rows):
        if before.at_s == after.at_s:
            when = datetime.fromtimestamp(after.at_s, tz=UTC).isoformat()
            raise ScenarioError(
                f"{after.where}: zone {zone} has a second value for {when} "
                f"(first at {before.where}); remove the duplicate or the overlapping file"
            )
    start_s = np.fromiter((row.at_s for row in rows), dtype=np.int64, count=len(rows))
    values = np.fromiter((row.value for row in rows), dtype=np.float64, count=len(rows))
    return IntensityTrace(zone=zone, start_s=start_s, g_per_kwh=values, end_s=_end_s(start_s, None))


__all__ = [
    "EM_TIME",
    "EM_VALUE",
    "EM_ZONE",
    "LONG_COLUMNS",
    "SIGNALS",
    "Signal",
    "load_carbon_traces",
    "read_carbon_csv",
    "trace_from_series",
]
