"""How the client commands show jobs: one-line decisions and Rich tables (JSON in, text out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

Json = Mapping[str, Any]


def _cap(value: float | None, unit: str) -> str:
    return "none" if value is None else f"{value:g} {unit}"


def _time(value: str | None) -> str:
    """``2026-11-27T21:37:33.8+00:00`` → ``2026-11-27 21:37 UTC``."""
    if not value:
        return "–"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def decision_line(job: Json) -> str:
    """``job-… PENDING: deferred 5 h to 02:00 UTC in FR; expected −41 % CO2e; …``."""
    explanation = job.get("explanation") or "no decision yet"
    return f"{job['id']} {job['state']}: {explanation}"


def caps_line(job: Json) -> str:
    """The job's caps after a change."""
    spec = job["spec"]
    return (
        f"{job['id']}: power cap {_cap(spec.get('power_cap_w'), 'W')} per GPU, "
        f"energy cap {_cap(spec.get('energy_cap_kwh'), 'kWh')}"
    )


def job_table(job: Json) -> Table:
    """One job as a two-column table."""
    spec = job["spec"]
    table = Table("field", "value", show_header=False, title=job["id"])
    realised = job.get("realised")
    saving = job.get("expected_saving_pct")
    rows = [
        ("name", spec["name"]),
        ("state", f"{job['state']} (attempt {job['attempt']})"),
        ("team / project / model", f"{spec['team']} / {spec['project']} / {spec['model_version']}"),
        ("command", " ".join(spec["entrypoint"])),
        ("gpus", str(spec["gpus"])),
        ("deadline", _time(spec["deadline"])),
        ("decision", job.get("explanation") or "–"),
        ("planned", f"{job.get('planned_region') or '–'} at {_time(job.get('planned_start'))}"),
        ("expected saving", "–" if saving is None else f"{saving:.0f} %"),
        ("power cap", _cap(spec.get("power_cap_w"), "W per GPU")),
        ("energy cap", _cap(spec.get("energy_cap_kwh"), "kWh")),
    ]
    if realised:
        pct = realised.get("savings_pct")
        rows += [
            ("energy used", f"{realised['energy_kwh']:.3f} kWh"),
            ("emissions", f"{realised['emissions_g']:.0f} g CO2e"),
            (
                "saved",
                f"{realised['savings_g']:.0f} g" + ("" if pct is None else f" ({pct:.0f} %)"),
            ),
        ]
    for field, value in rows:
        table.add_row(field, value)
    return table


def attempts_table(attempts: Sequence[Json]) -> Table:
    """A job's dispatch attempts."""
    table = Table("attempt", "region", "state", "started", "ended", "message", title="attempts")
    for record in attempts:
        table.add_row(
            str(record["attempt"]), record["region"], record["state"],
            _time(record.get("started_at")), _time(record.get("ended_at")), record["message"],
        )  # fmt: skip
    return table


def jobs_table(jobs: Sequence[Json]) -> Table:
    """A page of jobs, one row each."""
    table = Table("id", "name", "team", "state", "gpus", "deadline", "decision")
    for job in jobs:
        spec = job["spec"]
        table.add_row(
            job["id"], spec["name"][:30], spec["team"], job["state"], str(spec["gpus"]),
            _time(spec["deadline"]), job.get("explanation") or "–",
        )  # fmt: skip
    return table
