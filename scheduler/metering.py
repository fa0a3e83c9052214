"""``LogEnergyMeter``: measured energy of finished attempts, from the per-job runner's report.

A capped job runs under the per-job power runner (``RunnerDispatch``), whose last output line
is ``CARBONSHIFT_ENERGY {json}`` (``MeasuredEnergy``). This meter reads it from the attempt's
cluster logs and gives ``AccountingHook`` the energy with its source (``simulated``,
``nvml_counter``, ``integrated_samples``) and the energy-cap outcome. Attempts without a
report (unmetered jobs, a runner killed before reporting, unreachable logs) get None, and
accounting falls back to its estimate.
"""

from __future__ import annotations

from collections.abc import Mapping

from scheduler.accounting import EnergyCapOutcome
from scheduler.errors import ClusterError
from scheduler.model import AttemptRecord, EnergySource, Job, MeasuredEnergy
from scheduler.protocols import Cluster

#: Reports remembered (the hook asks for energy and outcome of the same attempt in a row).
CACHE_SIZE = 256


class LogEnergyMeter:
    """Reads each finished attempt's energy report from its cluster's logs (cached)."""

    def __init__(self, clusters: Mapping[str, Cluster]) -> None:
        self._clusters = clusters
        self._reports: dict[str, MeasuredEnergy | None] = {}

    def report(self, job: Job, record: AttemptRecord) -> MeasuredEnergy | None:
        """The runner's report for ``record``, or None when it has none."""
        key = record.submission_id
        if key not in self._reports:
            if len(self._reports) >= CACHE_SIZE:
                self._reports.clear()
            self._reports[key] = self._read(job, record)
        return self._reports[key]

    def _read(self, job: Job, record: AttemptRecord) -> MeasuredEnergy | None:
        cluster = self._clusters.get(record.region)
        if cluster is None:
            return None
        try:
            measured = MeasuredEnergy.from_logs(cluster.logs(record.submission_id))
        except ClusterError:
            return None
        if measured is None or (measured.job_id, measured.attempt) != (job.id, record.attempt):
            return None
        return measured

    def __call__(self, job: Job, record: AttemptRecord) -> tuple[int, EnergySource] | None:
        """``AccountingHook``'s meter: measured energy in mJ and its source, or None."""
        measured = self.report(job, record)
        return None if measured is None else (measured.energy_mj, measured.energy_source)

    def cap_outcome(self, job: Job, record: AttemptRecord) -> EnergyCapOutcome | None:
        """The energy-cap outcome the runner reported, or None without a report."""
        measured = self.report(job, record)
        return None if measured is None else measured.energy_cap_outcome
