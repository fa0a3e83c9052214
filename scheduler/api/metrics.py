"""Prometheus metrics of one carbonshift process, in their own ``CollectorRegistry``.

Names are in base units, counters end in ``_total``:

* ``carbonshift_jobs{state}``: jobs per state (read from the job store at scrape time);
* ``carbonshift_deferral_seconds_total``: time finished attempts waited from submission to
  start (from the ledger);
* ``carbonshift_co2e_saved_grams_total{basis}``: ``expected`` (the decision's forecast over
  the actual run) and ``realised`` grams CO2e saved against running at once (ledger);
* ``carbonshift_forecast_age_seconds{zone}``: age of the newest forecast fetched per zone;
* ``carbonshift_forecast_provider_errors_total{provider, zone}``;
* ``carbonshift_planner_duration_seconds``: time spent in the planning policy;
* ``carbonshift_api_jobs_submitted_total``, ``carbonshift_api_rate_limited_total``.

The service feeds the forecast and planner figures through the decorators
``InstrumentedForecastProvider`` and ``TimedPolicy``, which wrap the real objects.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from scheduler.accounting import effective_entries
from scheduler.errors import ForecastError
from scheduler.model import Forecast, JobState, LedgerEntry
from scheduler.planning.problem import Plan, PlanProblem, Policy
from scheduler.protocols import Clock, ForecastProvider, JobStore, Ledger

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ServiceMetrics:
    """The metrics one process exposes at ``/metrics``; share one instance per process."""

    def __init__(self, *, clock: Clock) -> None:
        self.registry = CollectorRegistry()
        self._clock = clock
        self._lock = threading.Lock()
        self._forecast_fetched_at: dict[str, datetime] = {}
        self.planner_seconds = Histogram(
            "carbonshift_planner_duration_seconds",
            "Time spent in the planning policy per planning round.",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.provider_errors = Counter(
            "carbonshift_forecast_provider_errors",
            "Forecast requests that failed, per provider and zone.",
            ["provider", "zone"],
            registry=self.registry,
        )
        self.jobs_submitted = Counter(
            "carbonshift_api_jobs_submitted",
            "Jobs acknowledged by POST /v1/jobs (idempotent repeats included).",
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "carbonshift_api_rate_limited",
            "Submissions refused with 429 because a token exceeded its rate.",
            registry=self.registry,
        )
        self.registry.register(_ForecastAgeCollector(self))

    def observe_forecast(self, forecast: Forecast) -> None:
        """Remember when ``forecast``'s zone was last fetched."""
        zone = forecast.zone
        fetched_at = forecast.provenance.fetched_at
        with self._lock:
            newest = self._forecast_fetched_at.get(zone)
            if newest is None or fetched_at > newest:
                self._forecast_fetched_at[zone] = fetched_at

    def forecast_ages_s(self) -> dict[str, float]:
        """Seconds since the newest forecast of each zone was fetched."""
        now = self._clock.now()
        with self._lock:
            fetched = dict(self._forecast_fetched_at)
        return {zone: max((now - at).total_seconds(), 0.0) for zone, at in fetched.items()}

    def watch(self, *, store: JobStore, ledger: Ledger | None) -> None:
        """Report jobs per state from ``store`` and ledger totals from ``ledger`` at scrape."""
        self.registry.register(_StoreCollector(store, ledger))

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class _ForecastAgeCollector(Collector):
    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "carbonshift_forecast_age_seconds",
            "Seconds since the newest forecast of the zone was fetched.",
            labels=["zone"],
        )
        for zone, age_s in sorted(self._metrics.forecast_ages_s().items()):
            family.add_metric([zone], age_s)
        yield family


def expected_saved_g(entry: LedgerEntry) -> float | None:
    """Grams saved as the decision's forecast expected, over the actual run; None if unknown.

    The forecast intensity replaces the realised one in the entry's own emissions, so energy
    and PUE stay those measured.
    """
    forecast = entry.forecast_intensity_g_per_kwh
    if forecast is None or entry.intensity_g_per_kwh <= 0:
        return None
    expected_emissions_g = entry.emissions_g * forecast / entry.intensity_g_per_kwh
    return entry.counterfactual_emissions_g - expected_emissions_g


class _StoreCollector(Collector):
    """Reads the store and the ledger at scrape time; ledger sums are cached by chain head."""

    def __init__(self, store: JobStore, ledger: Ledger | None) -> None:
        self._store = store
        self._ledger = ledger
        self._cache: tuple[str, tuple[float, float, float]] | None = None

    def _ledger_totals(self) -> tuple[float, float, float]:
        if self._ledger is None:
            return (0.0, 0.0, 0.0)
        head = self._ledger.head()
        if self._cache is not None and self._cache[0] == head:
            return self._cache[1]
        entries = effective_entries(list(self._ledger.entries()))
        deferral_s = sum(max((e.started_at - e.submitted_at).total_seconds(), 0.0) for e in entries)
        realised_g = sum(e.savings_g for e in entries)
        expected_g = sum(saved for e in entries if (saved := expected_saved_g(e)) is not None)
        totals = (deferral_s, expected_g, realised_g)
        self._cache = (head, totals)
        return totals

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("carbonshift_jobs", "Jobs per state.", labels=["state"])
        counts = dict.fromkeys(JobState, 0)
        for job in self._store.list():
            counts[job.state] += 1
        for state, count in counts.items():
            jobs.add_metric([state.value], count)
        yield jobs
        deferral_s, expected_g, realised_g = self._ledger_totals()
        yield CounterMetricFamily(
            "carbonshift_deferral_seconds",
            "Seconds finished attempts waited between submission and start.",
            value=deferral_s,
        )
        saved = CounterMetricFamily(
            "carbonshift_co2e_saved_grams",
            "Grams CO2e saved against running at once: expected (forecast) and realised.",
            labels=["basis"],
        )
        saved.add_metric(["expected"], expected_g)
        saved.add_metric(["realised"], realised_g)
        yield saved


class InstrumentedForecastProvider:
    """A ``ForecastProvider`` that records forecast ages and provider errors in the metrics."""

    def __init__(self, inner: ForecastProvider, metrics: ServiceMetrics) -> None:
        self._inner = inner
        self._metrics = metrics
        self.name = inner.name

    def forecast(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """The inner provider's forecast; errors are counted and re-raised unchanged."""
        try:
            forecast = self._inner.forecast(zone, start, end)
        except ForecastError:
            self._metrics.provider_errors.labels(provider=self.name, zone=zone).inc()
            raise
        self._metrics.observe_forecast(forecast)
        return forecast


class TimedPolicy:
    """A planning ``Policy`` whose every ``plan`` call is timed into the metrics."""

    def __init__(self, inner: Policy, metrics: ServiceMetrics) -> None:
        self._inner = inner
        self._metrics = metrics
        self.name = inner.name

    def plan(self, problem: PlanProblem) -> Plan:
        """The inner policy's plan."""
        started = time.perf_counter()
        try:
            return self._inner.plan(problem)
        finally:
            self._metrics.planner_seconds.observe(time.perf_counter() - started)
