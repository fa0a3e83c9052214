"""Writing a simulation's schedule CSV and result JSON, exactly as FORMATS.md defines them."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scheduler.model import Region
from scheduler.simulation.accounting import RunSegment

SCHEDULE_COLUMNS = ("job_id", "region", "zone", "start", "end", "gpus", "power_cap_w")
RESULT_KEYS = (
    "policy",
    "jobs",
    "completed",
    "missed_deadlines",
    "energy_kwh",
    "emissions_g",
    "baseline_emissions_g",
    "savings_pct",
    "oracle_emissions_g",
    "oracle_efficiency",
    "mean_delay_h",
    "p95_delay_h",
    "peak_gpus",
    "plan_time_s",
)


def iso(at_s: int) -> str:
    """``2020-01-06T09:30:00+00:00``: ISO 8601 with an explicit UTC offset."""
    return datetime.fromtimestamp(at_s, tz=UTC).isoformat()


def write_schedule(path: Path, segments: Sequence[RunSegment], regions: Sequence[Region]) -> None:
    """One row per contiguous run segment, ordered by start then job id."""
    ordered = sorted(segments, key=lambda seg: (seg.start_s, seg.job_id))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SCHEDULE_COLUMNS)
        for seg in ordered:
            region = regions[seg.region]
            writer.writerow(
                (
                    seg.job_id,
                    region.name,
                    region.zone,
                    iso(seg.start_s),
                    iso(seg.end_s),
                    seg.gpus,
                    "" if seg.power_cap_w is None else f"{seg.power_cap_w:g}",
                )
            )


def write_result(path: Path, result: Mapping[str, Any]) -> None:
    """The result JSON with FORMATS.md's keys, in order."""
    missing = [key for key in RESULT_KEYS if key not in result]
    if missing:
        raise ValueError(f"result lacks keys {missing}")
    ordered = {key: result[key] for key in RESULT_KEYS}
    path.write_text(json.dumps(ordered, indent=2) + "\n", encoding="utf-8")
