"""Scenario files of ``carbonshift simulate``: the jobs CSV and the regions YAML.

The formats are the contract of ``../shared/scenarios/FORMATS.md``. Every row and key is
validated with pydantic; the first bad row raises :class:`ScenarioError` naming the file, the
line, the column, the bad value and the fix. Times become integer UTC epoch seconds here, so
the engine never touches ``datetime`` in its inner loops.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from scheduler.errors import ScenarioError
from scheduler.model import Region, UtcDatetime

JOB_COLUMNS = (
    "job_id",
    "submit_time",
    "duration_s",
    "deadline",
    "gpus",
    "home_zone",
    "allowed_zones",
    "interruptible",
    "power_w",
)
OPTIONAL_JOB_COLUMNS = ("estimated_duration_s",)


class JobRow(BaseModel):
    """One row of the jobs file, as FORMATS.md defines it."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    job_id: str = Field(min_length=1)
    submit_time: UtcDatetime
    duration_s: int = Field(gt=0)
    deadline: UtcDatetime
    gpus: int = Field(ge=1)
    home_zone: str = Field(min_length=1)
    allowed_zones: tuple[str, ...] = ()
    interruptible: bool
    power_w: float = Field(gt=0, allow_inf_nan=False)
    estimated_duration_s: int | None = Field(default=None, gt=0)

    @field_validator("allowed_zones", mode="before")
    @classmethod
    def _split_zones(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(zone.strip() for zone in value.split(";") if zone.strip())
        return value

    @field_validator("interruptible", mode="before")
    @classmethod
    def _true_false(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() not in ("true", "false"):
            raise ValueError(f"write true or false (got {value!r})")
        return value


@dataclass(frozen=True, kw_only=True, slots=True)
class SimJob:
    """A job of a scenario, times in UTC epoch seconds."""

    id: str
    submit_s: int
    duration_s: int
    estimated_duration_s: int
    deadline_s: int
    gpus: int
    home_zone: str
    zones: tuple[str, ...]
    interruptible: bool
    power_w: float


class RegionsFile(BaseModel):
    """The regions YAML: the planning resolution and one entry per region."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    slot_minutes: int = Field(ge=1, le=1440)
    regions: tuple[Region, ...] = Field(min_length=1)

    @field_validator("regions")
    @classmethod
    def _unique_names(cls, value: tuple[Region, ...]) -> tuple[Region, ...]:
        names = [region.name for region in value]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"region names must be unique; repeated: {repeated}")
        return value


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """Jobs (sorted by submission) and regions of one simulation."""

    jobs: tuple[SimJob, ...]
    regions: tuple[Region, ...]
    slot_s: int

    def region_indices(self, zones: Sequence[str]) -> tuple[int, ...]:
        """Indices of the regions whose zone is in ``zones``, in file order."""
        return tuple(i for i, region in enumerate(self.regions) if region.zone in zones)


def load_scenario(jobs_path: Path, regions_path: Path) -> Scenario:
    """Read and cross-check both files.

    Raises:
        ScenarioError: a file is missing or malformed, or a job names a zone no region has.
    """
    regions = load_regions(regions_path)
    jobs = load_jobs(jobs_path)
    scenario = Scenario(jobs=jobs, regions=regions.regions, slot_s=regions.slot_minutes * 60)
    _check_zones(scenario, jobs_path, regions_path)
    return scenario


def load_regions(path: Path) -> RegionsFile:
    """Parse the regions YAML."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the regions file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML ({exc}); fix the syntax") from exc
    try:
        return RegionsFile.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: {_problems(exc)}") from exc


def load_jobs(path: Path) -> tuple[SimJob, ...]:
    """Parse the jobs CSV; jobs come back sorted by submission time (then id)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            _check_header(path, reader.fieldnames)
            jobs = [_job(path, reader.line_num, row) for row in reader]
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the jobs file ({exc.strerror})") from exc
    if not jobs:
        raise ScenarioError(f"{path}: no jobs below the header; add at least one row")
    _check_unique(path, jobs)
    return tuple(sorted(jobs, key=lambda job: (job.submit_s, job.id)))


def _check_header(path: Path, header: Sequence[str] | None) -> None:
    found = list(header or ())
    missing = [column for column in JOB_COLUMNS if column not in found]
    unknown = [c for c in found if c not in JOB_COLUMNS and c not in OPTIONAL_JOB_COLUMNS]
    if missing or unknown:
        raise ScenarioError(
            f"{path}: header has missing columns {missing} and unknown columns {unknown}; "
            f"the jobs file has {', '.join(JOB_COLUMNS)} and optionally estimated_duration_s"
        )


def _job(path: Path, line: int, row: dict[str, str]) -> SimJob:
    if None in row:
        raise ScenarioError(f"{path}:{line}: more fields than header columns; fix the row")
    data = {key: value for key, value in row.items() if value != "" or key == "allowed_zones"}
    try:
        parsed = JobRow.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{path}:{line}: {_problems(exc)}") from exc
    if parsed.deadline <= parsed.submit_time:
        raise ScenarioError(
            f"{path}:{line}: deadline {parsed.deadline.isoformat()} is not after submit_time "
            f"{parsed.submit_time.isoformat()}; give a later deadline"
        )
    return SimJob(
        id=parsed.job_id,
        submit_s=int(parsed.submit_time.timestamp()),
        duration_s=parsed.duration_s,
        estimated_duration_s=parsed.estimated_duration_s or parsed.duration_s,
        deadline_s=int(parsed.deadline.timestamp()),
        gpus=parsed.gpus,
        home_zone=parsed.home_zone,
        zones=parsed.allowed_zones or (parsed.home_zone,),
        interruptible=parsed.interruptible,
        power_w=parsed.power_w,
    )


def _check_unique(path: Path, jobs: list[SimJob]) -> None:
    seen: set[str] = set()
    for job in jobs:
        if job.id in seen:
            raise ScenarioError(f"{path}: job_id {job.id!r} appears twice; job ids are unique")
        seen.add(job.id)


def _check_zones(scenario: Scenario, jobs_path: Path, regions_path: Path) -> None:
    zones = {region.zone for region in scenario.regions}
    for job in scenario.jobs:
        missing = sorted({job.home_zone, *job.zones} - zones)
        if missing:
            raise ScenarioError(
                f"{jobs_path}: job {job.id} names zone(s) {missing} but {regions_path} has "
                f"regions only in {sorted(zones)}; add a region for each zone a job may use"
            )


def _problems(exc: ValidationError) -> str:
    """pydantic errors as one line: ``column: message (got value)``; fix by the message."""
    parts = []
    for item in exc.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        got = item.get("input")
        shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
        parts.append(f"{where}: {item['msg']}{shown}")
    return "; ".join(parts)
