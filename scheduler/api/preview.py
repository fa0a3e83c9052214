"""The first decision of a just-submitted job: the planner run for that job on current data.

``PreviewDecisions`` calls the service's own ``decide`` (same grid, policy and safety margin)
for the new job alone, on the forecasts and free GPUs of the last ``refresh_s`` seconds
(cached, so a burst of submissions costs one forecast fetch and one capacity query per
cluster). The service's next tick decides again with every waiting job; this answer is what
``POST /v1/jobs`` reports.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from scheduler.errors import ClusterUnavailable, ForecastError
from scheduler.model import ClusterCapacity, Decision, Forecast, Job, Region
from scheduler.planning.problem import Policy
from scheduler.protocols import Clock, Cluster, ForecastProvider
from scheduler.service.planning import PlanningConfig, decide, grid_start


class PreviewDecisions:
    """A ``Callable[[Job], Decision]`` for ``RecordedDecisions``; thread-safe."""

    def __init__(
        self,
        *,
        regions: Sequence[Region],
        clusters: Mapping[str, Cluster],
        forecasts: ForecastProvider,
        policy: Policy,
        config: PlanningConfig,
        default_zone: str,
        clock: Clock,
        refresh_s: float = 60.0,
    ) -> None:
        self._regions = tuple(regions)
        self._clusters = dict(clusters)
        self._forecasts = forecasts
        self._policy = policy
        self._config = config
        self._default_zone = default_zone
        self._clock = clock
        self._refresh = timedelta(seconds=refresh_s)
        self._lock = threading.Lock()
        self._inputs: tuple[datetime, dict[str, Forecast | None], dict[str, ClusterCapacity]]
        self._inputs = (datetime.min.replace(tzinfo=clock.now().tzinfo), {}, {})

    def __call__(self, job: Job) -> Decision:
        """The planner's decision for ``job`` now."""
        now = self._clock.now()
        forecasts, capacity = self._current_inputs(now)
        decisions = decide(
            jobs=[job],
            regions=self._regions,
            forecasts=forecasts,
            capacity=capacity,
            running=(),
            now=now,
            policy=self._policy,
            config=self._config,
            default_zone=self._default_zone,
        )
        return decisions[0]

    def _current_inputs(
        self, now: datetime
    ) -> tuple[dict[str, Forecast | None], dict[str, ClusterCapacity]]:
        with self._lock:
            fetched_at, forecasts, capacity = self._inputs
            if now - fetched_at >= self._refresh:
                forecasts, capacity = self._fetch_forecasts(now), self._capacities()
                self._inputs = (now, forecasts, capacity)
            return forecasts, capacity

    def _fetch_forecasts(self, now: datetime) -> dict[str, Forecast | None]:
        start = grid_start(now, self._config.slot_s)
        end = start + timedelta(seconds=self._config.horizon_s)
        found: dict[str, Forecast | None] = {}
        for zone in sorted({region.zone for region in self._regions}):
            try:
                found[zone] = self._forecasts.forecast(zone, start, end)
            except ForecastError:
                found[zone] = None  # deadline-safe mode, exactly as the service does
        return found

    def _capacities(self) -> dict[str, ClusterCapacity]:
        found = {}
        for name, cluster in self._clusters.items():
            try:
                found[name] = cluster.capacity()
            except ClusterUnavailable:
                continue  # planned without it, exactly as the service does
        return found
