"""Tiny policies for testing the simulator (the real ones live in ``scheduler.planning``)."""

from __future__ import annotations

import numpy as np

from scheduler.planning.problem import Plan, PlanJob, PlanProblem, Segment


class EarliestPolicy:
    """Each job contiguously at its earliest slot with free capacity, in its first region."""

    name = "test-earliest"

    def plan(self, problem: PlanProblem) -> Plan:
        """Place jobs in list order; unplaced when no window fits before the deadline."""
        free = problem.capacity.copy()
        placements: dict[str, tuple[Segment, ...]] = {}
        unplaced = []
        for job in problem.jobs:
            segment = self._earliest(job, free)
            if segment is None:
                unplaced.append(job.id)
                continue
            free[segment.region, segment.start : segment.end] -= job.gpus
            placements[job.id] = (segment,)
        return Plan(placements=placements, unplaced=tuple(unplaced))

    @staticmethod
    def _earliest(job: PlanJob, free: np.ndarray) -> Segment | None:
        region = job.regions[0]
        for start in range(job.release_slot, job.deadline_slot - job.duration_slots + 1):
            if np.all(free[region, start : start + job.duration_slots] >= job.gpus):
                return Segment(region=region, start=start, end=start + job.duration_slots)
        return None


class CheapestPolicy:
    """Per job, ignoring capacity: the cheapest window (or the cheapest slots if interruptible)."""

    name = "test-cheapest"

    def plan(self, problem: PlanProblem) -> Plan:
        """Each job alone in its cheapest region and window."""
        placements = {job.id: self._best(problem, job) for job in problem.jobs}
        return Plan(placements=placements)

    @staticmethod
    def _best(problem: PlanProblem, job: PlanJob) -> tuple[Segment, ...]:
        best: tuple[float, tuple[Segment, ...]] | None = None
        lo, hi, k = job.release_slot, job.deadline_slot, job.duration_slots
        for region in job.regions:
            values = problem.intensity[region, lo:hi]
            if job.interruptible:
                chosen = np.sort(np.argsort(values, kind="stable")[:k])
                cost = float(values[chosen].sum())
                segments = _runs(chosen + lo, region)
            else:
                sums = np.convolve(values, np.ones(k), mode="valid")
                start = int(np.argmin(sums))
                cost = float(sums[start])
                segments = (Segment(region=region, start=lo + start, end=lo + start + k),)
            if best is None or cost < best[0]:
                best = (cost, segments)
        assert best is not None
        return best[1]


def _runs(slots: np.ndarray, region: int) -> tuple[Segment, ...]:
    breaks = np.flatnonzero(np.diff(slots) != 1) + 1
    return tuple(
        Segment(region=region, start=int(part[0]), end=int(part[-1]) + 1)
        for part in np.split(slots, breaks)
    )


class OverbookingPolicy:
    """Deliberately bad: runs every job at once in its first region, ignoring capacity."""

    name = "test-overbooking"

    def plan(self, problem: PlanProblem) -> Plan:
        """Everything at its release slot."""
        return Plan(
            placements={
                job.id: (
                    Segment(
                        region=job.regions[0],
                        start=job.release_slot,
                        end=job.release_slot + job.duration_slots,
                    ),
                )
                for job in problem.jobs
            }
        )


class GreedyPolicy:
    """Capacity-aware: jobs in list order, each in its cheapest feasible region and slots."""

    name = "test-greedy"

    def plan(self, problem: PlanProblem) -> Plan:
        """Place each job where it is cheapest among the slots still free."""
        free = problem.capacity.copy()
        placements: dict[str, tuple[Segment, ...]] = {}
        unplaced = []
        for job in problem.jobs:
            segments = self._best(problem, job, free)
            if segments is None:
                unplaced.append(job.id)
                continue
            for seg in segments:
                free[seg.region, seg.start : seg.end] -= job.gpus
            placements[job.id] = segments
        return Plan(placements=placements, unplaced=tuple(unplaced))

    @staticmethod
    def _best(problem: PlanProblem, job: PlanJob, free: np.ndarray) -> tuple[Segment, ...] | None:
        lo, hi, k = job.release_slot, job.deadline_slot, job.duration_slots
        options: list[tuple[float, tuple[Segment, ...]]] = []
        for region in job.regions:
            values = problem.intensity[region, lo:hi]
            fits = free[region, lo:hi] >= job.gpus
            if job.interruptible:
                if fits.sum() < k:
                    continue
                costs = np.where(fits, values, np.inf)
                chosen = np.sort(np.argsort(costs, kind="stable")[:k])
                options.append((float(values[chosen].sum()), _runs(chosen + lo, region)))
            elif hi - lo >= k:
                windows = np.lib.stride_tricks.sliding_window_view(values, k).sum(axis=1)
                ok = np.lib.stride_tricks.sliding_window_view(fits, k).all(axis=1)
                if ok.any():
                    start = int(np.argmin(np.where(ok, windows, np.inf)))
                    seg = Segment(region=region, start=lo + start, end=lo + start + k)
                    options.append((float(windows[start]), (seg,)))
        return min(options, key=lambda option: option[0])[1] if options else None
