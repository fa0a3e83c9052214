"""The simulator's own verdict on a schedule: deadlines, windows, zones and capacity.

Run on the final real-time schedule, independently of the engine's bookkeeping, so a policy
(or engine) bug can never produce a quietly wrong result: any violation raises
:class:`ScheduleViolationError` listing the first few.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import pairwise

from scheduler.errors import ScheduleViolationError
from scheduler.model import Region
from scheduler.simulation.accounting import RunSegment, peak_gpus
from scheduler.simulation.scenario import SimJob

_SHOWN = 5


def _iso(at_s: int) -> str:
    return datetime.fromtimestamp(at_s, tz=UTC).isoformat()


def schedule_violations(
    jobs: Sequence[SimJob], segments: Sequence[RunSegment], regions: Sequence[Region]
) -> list[str]:
    """Every rule the schedule breaks, in words (empty when it is valid)."""
    by_job: dict[str, list[RunSegment]] = {}
    for seg in segments:
        by_job.setdefault(seg.job_id, []).append(seg)
    problems: list[str] = []
    for job in jobs:
        problems.extend(_job_violations(job, sorted(by_job.get(job.id, []), key=_start), regions))
    for name, peak in peak_gpus(segments, regions).items():
        limit = next(region.gpus for region in regions if region.name == name)
        if peak > limit:
            problems.append(f"region {name}: {peak} GPUs in use at once, capacity {limit}")
    return problems


def _start(seg: RunSegment) -> int:
    return seg.start_s


def _job_violations(job: SimJob, segs: list[RunSegment], regions: Sequence[Region]) -> list[str]:
    if not segs:
        return []
    problems = []
    if segs[0].start_s < job.submit_s:
        problems.append(f"job {job.id} starts {_iso(segs[0].start_s)} before its submission")
    # a job told a shorter duration than it runs may overrun: that is a miss, not a violation
    if segs[-1].end_s > job.deadline_s and job.duration_s <= job.estimated_duration_s:
        problems.append(
            f"job {job.id} ends {_iso(segs[-1].end_s)} after its deadline {_iso(job.deadline_s)}"
        )
    zones = {regions[seg.region].zone for seg in segs}
    if not zones <= set(job.zones):
        problems.append(f"job {job.id} runs in zone(s) {sorted(zones)}, allowed {job.zones}")
    if not job.interruptible and len(segs) > 1:
        problems.append(f"non-interruptible job {job.id} runs in {len(segs)} segments")
    if any(a.end_s > b.start_s for a, b in pairwise(segs)):
        problems.append(f"job {job.id} has overlapping segments")
    return problems


def verify_schedule(
    jobs: Sequence[SimJob], segments: Sequence[RunSegment], regions: Sequence[Region], policy: str
) -> None:
    """Raise ``ScheduleViolationError`` if the schedule breaks any rule."""
    problems = schedule_violations(jobs, segments, regions)
    if problems:
        shown = "; ".join(problems[:_SHOWN])
        more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        raise ScheduleViolationError(
            f"policy {policy!r} produced an invalid schedule: {shown}{more}; "
            "this is a bug in the policy or the simulator, please report it"
        )
