"""The ``oracle`` policy: the constraint-matched offline optimum, solved by HiGHS.

The problem is first cut into time components that no job window crosses; each is solved
on its own (``exact.solve``: MILP over start slots for non-interruptible jobs; interruptible
jobs in whole slots and one region when the model has at most ``max_binaries`` variables,
else as an LP).
A component whose MILP would have more than ``max_binaries`` start variables is solved in
rolling chunks of ``chunk_jobs`` jobs by release, each optimised together with the next
chunk and then fixed; its LP relaxation is solved whole for a lower bound, and the gap to
it is reported as ``Plan.mip_gap``. Fractional LP answers are rounded to whole slots and any
slot the rounding overcommits is repaired by the greedy placement.

For problems beyond it (thousands of jobs over months of slots, where even the rolling
chunks hit HiGHS's time limit), ``scheduler.planning.bound.lower_bound_g`` gives a proven
lower bound on the optimum instead: a planner's share of the bound's savings is at most its
share of the optimum's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scheduler.errors import OracleLimitError
from scheduler.planning.exact import Solution, Window, solve
from scheduler.planning.extract import placements_from
from scheduler.planning.greedy import Placements
from scheduler.planning.lns import model_size
from scheduler.planning.placement import take
from scheduler.planning.problem import IntArray, Plan, PlanJob, PlanProblem, plan_emissions_g


def components(jobs: Sequence[PlanJob]) -> list[list[PlanJob]]:
    """Groups of jobs whose windows chain together in time; no window crosses two groups."""
    groups: list[list[PlanJob]] = []
    end = -1
    for job in sorted(jobs, key=lambda j: (j.release_slot, j.id)):
        if job.release_slot >= end:
            groups.append([])
        groups[-1].append(job)
        end = max(end, job.deadline_slot)
    return groups


def _binaries(jobs: Sequence[PlanJob]) -> int:
    return sum(
        (j.deadline_slot - j.release_slot - j.duration_slots + 1) * len(j.regions)
        for j in jobs
        if not j.interruptible
    )


@dataclass
class _Totals:
    bound_g: float = 0.0
    unplaced: list[str] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class OraclePolicy:
    """Offline optimum (perfect knowledge) with HiGHS; a time limit per solve is optional."""

    name: str = field(default="oracle", init=False)
    #: HiGHS time limit per solve; a MILP stopped without a solution falls back to its
    #: rounded LP relaxation (the gap to the bound is still reported)
    time_limit_s: float | None = 60.0
    max_binaries: int = 60_000
    chunk_jobs: int = 120

    def plan(self, problem: PlanProblem) -> Plan:
        """Solve every component; see the module docstring."""
        free = problem.capacity.astype(np.int64).copy()
        placed: Placements = {}
        totals = _Totals()
        for group in components(problem.jobs):
            if _binaries(group) <= self.max_binaries:
                sol = self._solve(problem, group, free)
                totals.bound_g += sol.bound_g
                self._keep(problem, sol, free, placed, totals)
            else:
                self._rolling(problem, group, free, placed, totals)
        plan = Plan(placements=placed, unplaced=tuple(sorted(totals.unplaced)))
        objective = plan_emissions_g(problem, plan, problem.jobs)
        gap = None
        if objective > 0 and objective - totals.bound_g > 1e-6 * objective:
            gap = (objective - totals.bound_g) / objective
        return Plan(
            placements=placed,
            unplaced=plan.unplaced,
            mip_gap=gap,
            objective_g=objective,
            bound_g=min(totals.bound_g, objective),
        )

    def _solve(
        self, problem: PlanProblem, jobs: Sequence[PlanJob], free: IntArray, relax: bool = False
    ) -> Solution:
        t0 = min(j.release_slot for j in jobs)
        t1 = max(j.deadline_slot for j in jobs)
        window = Window(
            t0=t0,
            t1=t1,
            intensity=problem.intensity,
            capacity=free[:, t0:t1],
            slot_h=problem.slot_s / 3600.0,
        )
        try:
            whole = not relax and model_size(jobs) <= self.max_binaries
            return solve(jobs, window, self.time_limit_s, relax=relax, whole_interruptible=whole)
        except RuntimeError as err:
            if relax:
                raise OracleLimitError(
                    f"the oracle's LP relaxation of {len(jobs)} jobs over slots {t0}–{t1} has "
                    f"no solution within its {self.time_limit_s} s limit ({err}); raise the "
                    "limit (OraclePolicy.time_limit_s; --oracle-limit-s in the benchmarks) "
                    "or bound the optimum with scheduler.planning.bound.lower_bound_g"
                ) from err
            return self._solve(problem, jobs, free, relax=True)

    def _keep(
        self,
        problem: PlanProblem,
        sol: Solution,
        free: IntArray,
        placed: Placements,
        totals: _Totals,
    ) -> None:
        chosen, missed = placements_from(problem, sol, free)
        for block in sol.blocks:
            if block.job.id in chosen:
                take(free, block.job.gpus, chosen[block.job.id])
        placed.update(chosen)
        totals.unplaced += missed

    def _rolling(
        self,
        problem: PlanProblem,
        jobs: list[PlanJob],
        free: IntArray,
        placed: Placements,
        totals: _Totals,
    ) -> None:
        """Chunked MILP for a big component, bounded by its whole LP relaxation.

        When the relaxation's start indicators are already whole, it is the optimum.
        """
        relaxed = self._solve(problem, jobs, free, relax=True)
        totals.bound_g += relaxed.bound_g
        if relaxed.integral():
            self._keep(problem, relaxed, free, placed, totals)
            return
        size = self.chunk_jobs
        for first in range(0, len(jobs), size):
            sol = self._solve(problem, jobs[first : first + 2 * size], free)
            self._keep(
                problem,
                sol.restricted({j.id for j in jobs[first : first + size]}),
                free,
                placed,
                totals,
            )


__all__ = ["OraclePolicy", "components"]
