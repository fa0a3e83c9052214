"""The composition root: the one module of ``scheduler`` that imports ``forecasts`` and
``plugins``. It registers every plugin by name and builds the object graph from settings.

Adding a backend means: write it in its role folder, then add one ``register`` line below.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.job import Job as ApsJob
from apscheduler.schedulers.base import BaseScheduler
from pydantic import SecretStr

from forecasts.cache import MemoryForecastCache
from forecasts.carbon_aware_sdk import CarbonAwareSdkOptions, CarbonAwareSdkProvider
from forecasts.chain import ChainPolicy, ForecastChain
from forecasts.demo_grid import DemoGridOptions, DemoGridProvider
from forecasts.electricitymaps import ElectricityMapsOptions, ElectricityMapsProvider
from forecasts.forecaster import LagRidgeForecaster
from forecasts.http import HttpClient, HttpOptions
from forecasts.refresh import schedule_refreshes
from forecasts.static import StaticOptions, StaticProvider
from forecasts.trace_replay import TraceReplayOptions, TraceReplayProvider
from forecasts.traces import SIGNALS, load_carbon_traces
from forecasts.ukci import UkCarbonIntensityOptions, UkCarbonIntensityProvider
from forecasts.validation import ValidationRules
from forecasts.watttime import WattTimeOptions, WattTimeProvider
from plugins.agent.client import AgentClient
from plugins.agent.embedded import EmbeddedAgent
from plugins.agent.process import run_agent
from plugins.clusters.local_ray import LocalRayHead
from plugins.clusters.options import LocalRayOptions, RayOptions, ScriptedOptions
from plugins.clusters.scripted import Script, ScriptedCluster
from plugins.ledgers.memory import MemoryLedger
from plugins.ledgers.sql import SqlLedger
from plugins.power.curves import shipped_curve
from plugins.power.dispatch import RunnerDispatch
from plugins.power.nvml import NvmlOptions, NvmlPowerBackend
from plugins.power.runner import JobCaps
from plugins.power.simulated import SimulatedOptions, SimulatedPowerBackend
from plugins.power.wrap import wrap_job
from plugins.stores.database import default_sqlite_url, open_database
from plugins.stores.lock import FileLock, NoLock, PostgresAdvisoryLock
from plugins.stores.memory import InMemoryJobStore
from plugins.stores.memory_tokens import InMemoryTokenStore
from plugins.stores.options import PostgresOptions, SqliteOptions
from plugins.stores.sql import SqlJobStore
from plugins.stores.sql_forecast_cache import SqlForecastCache
from plugins.stores.sql_tokens import SqlTokenStore
from scheduler.clock import FakeClock
from scheduler.errors import (
    ClusterUnavailable,
    ConfigError,
    PowerError,
    ScenarioError,
    UnknownPluginError,
)
from scheduler.metering import LogEnergyMeter
from scheduler.model import IntensityTrace, Job, Region
from scheduler.planning.power_capping import PowerLevel
from scheduler.protocols import (
    Clock,
    Cluster,
    ForecastCache,
    ForecastProvider,
    IntensityHistory,
    IntervalForecaster,
    JobStore,
    Ledger,
    PowerBackend,
    SchedulerLock,
    SignalForecaster,
    TokenStore,
)
from scheduler.recording import AccountingHook, HistoryChain, LedgerRecorder
from scheduler.registry import NoOptions, PluginOptions, Registry
from scheduler.service.budgets import LedgerBudgets
from scheduler.service.loop import FinishedHook, SchedulerService, ServiceConfig
from scheduler.service.planning import PlanningConfig
from scheduler.service.runner import ServiceRunner
from scheduler.settings import PluginConfig, RegionConfig, Settings

if TYPE_CHECKING:  # heavy modules (Ray, FastAPI, SciPy) load only where they are used
    from scheduler.api.metrics import ServiceMetrics
    from scheduler.api.server import ApiServer


@dataclass(frozen=True, kw_only=True)
class WiringContext:
    """What every factory may use: the settings, the clock and the data directory."""

    settings: Settings
    clock: Clock
    #: closes what factories started (the embedded Ray head) when the graph is torn down
    resources: ExitStack = field(default_factory=ExitStack)

    @property
    def data_dir(self) -> Path:
        """Where SQLite files and local state live."""
        return self.settings.data_dir


@dataclass(frozen=True, kw_only=True)
class ClusterContext:
    """What a cluster factory gets: the wiring context and its region."""

    wiring: WiringContext
    region: RegionConfig


@dataclass(frozen=True, kw_only=True)
class Registries:
    """One registry per role."""

    stores: Registry[JobStore, WiringContext] = field(default_factory=lambda: Registry("store"))
    clusters: Registry[Cluster, ClusterContext] = field(default_factory=lambda: Registry("cluster"))
    forecast_providers: Registry[ForecastProvider, WiringContext] = field(
        default_factory=lambda: Registry("forecast provider")
    )
    power_backends: Registry[PowerBackend, WiringContext] = field(
        default_factory=lambda: Registry("power backend")
    )


def _static_provider(options: StaticOptions, ctx: WiringContext) -> ForecastProvider:
    return StaticProvider(options.g_per_kwh, clock=ctx.clock)


def _sqlite_store(options: SqliteOptions, ctx: WiringContext) -> JobStore:
    url = f"sqlite:///{options.path}" if options.path else default_sqlite_url(ctx.data_dir)
    return SqlJobStore(open_database(url))


def _postgres_store(options: PostgresOptions, _ctx: WiringContext) -> JobStore:
    return SqlJobStore(open_database(options.url.get_secret_value()))


def _memory_store(_options: NoOptions, _ctx: WiringContext) -> JobStore:
    return InMemoryJobStore()


def _register_stores(registries: Registries) -> None:
    stores = registries.stores
    stores.register("sqlite", SqliteOptions, _sqlite_store, "SQLite file in the data dir (WAL)")
    stores.register("postgresql", PostgresOptions, _postgres_store, "PostgreSQL server")
    stores.register("memory", NoOptions, _memory_store, "in memory, lost on exit (tests, demos)")


def _trace_provider(options: TraceReplayOptions, ctx: WiringContext) -> ForecastProvider:
    return TraceReplayProvider.from_files(
        options.files, clock=ctx.clock, signal=options.signal, horizon_h=options.horizon_h
    )


def _demo_grid_provider(options: DemoGridOptions, ctx: WiringContext) -> ForecastProvider:
    return DemoGridProvider(clock=ctx.clock, seed=options.seed, horizon_h=options.horizon_h)


def _ray_cluster(options: RayOptions, ctx: ClusterContext) -> Cluster:
    from plugins.clusters.ray import RayCluster  # noqa: PLC0415  (loads Ray only when a cluster is built)

    token = options.token
    if token is None and options.token_env:
        value = os.environ.get(options.token_env)
        if not value:
            raise ConfigError(
                f"regions.{ctx.region.name}.cluster.token_env names {options.token_env}, "
                "which is not set; export it with the cluster's Ray auth token"
            )
        token = SecretStr(value)
    return RayCluster(
        region=ctx.region.name,
        address=options.address,
        token=token,
        runtime_env=options.runtime_env,
        entrypoint=capped_entrypoint(ctx.wiring, embedded_agent_gpus=None),
    )


def _local_ray_cluster(options: LocalRayOptions, ctx: ClusterContext) -> Cluster:
    from plugins.clusters.ray import RayCluster  # noqa: PLC0415  (loads Ray only when a cluster is built)

    gpus = options.num_gpus
    num_gpus = ctx.wiring.settings.service.local_ray_gpus if gpus is None else gpus
    head = LocalRayHead(num_gpus=num_gpus)
    ctx.wiring.resources.enter_context(head)
    return RayCluster(
        region=ctx.region.name,
        address=head.address,
        token=head.token,
        entrypoint=capped_entrypoint(ctx.wiring, embedded_agent_gpus=num_gpus),
    )


def _scripted_cluster(options: ScriptedOptions, ctx: ClusterContext) -> Cluster:
    script = Script(pending_s=options.pending_s, run_s=options.run_s)
    return ScriptedCluster(
        region=ctx.region.name,
        clock=ctx.wiring.clock,
        total_gpus=options.total_gpus,
        default=script,
    )


def _register_clusters(registries: Registries) -> None:
    clusters = registries.clusters
    clusters.register("ray", RayOptions, _ray_cluster, "an existing Ray cluster (Jobs API)")
    clusters.register(
        "ray-local", LocalRayOptions, _local_ray_cluster, "a local Ray head started on demand"
    )
    clusters.register("scripted", ScriptedOptions, _scripted_cluster, "fake cluster, runs nothing")


def default_registries() -> Registries:
    """Every plugin that ships with carbonshift, by role."""
    registries = Registries()
    _register_stores(registries)
    _register_clusters(registries)
    _register_power(registries)
    registries.forecast_providers.register(
        "static", StaticOptions, _static_provider, "constant intensity per zone"
    )
    registries.forecast_providers.register(
        "trace", TraceReplayOptions, _trace_provider, "replays recorded carbon CSV files"
    )
    registries.forecast_providers.register(
        "demo-grid", DemoGridOptions, _demo_grid_provider, "seeded synthetic grids (built in)"
    )
    _register_signal_providers(registries)
    return registries


def plugin_sections(settings: Settings) -> list[tuple[str, str, PluginConfig]]:
    """Every plugin section of ``settings`` as (role, location, config)."""
    sections: list[tuple[str, str, PluginConfig]] = [
        ("stores", "store", settings.store),
        ("power_backends", "power", settings.power),
    ]
    for i, region in enumerate(settings.regions):
        sections.append(("clusters", f"regions.{i}.cluster", region.cluster))
    for i, provider in enumerate(settings.forecasts.default):
        sections.append(("forecast_providers", f"forecasts.default.{i}", provider))
    for zone, chain in settings.forecasts.zones.items():
        for i, provider in enumerate(chain):
            sections.append(("forecast_providers", f"forecasts.zones.{zone}.{i}", provider))
    return sections


def _registry(registries: Registries, role: str) -> Registry[Any, Any]:
    registry: Registry[Any, Any] = getattr(registries, role)
    return registry


def plugin_problems(settings: Settings, registries: Registries) -> list[str]:
    """Every problem in the plugin sections (unknown kinds, unknown or bad options)."""
    problems: list[str] = []
    for role, where, config in plugin_sections(settings):
        try:
            _registry(registries, role).options(config, where)
        except UnknownPluginError as exc:
            problems.append(f"{where}.kind: {exc}")
        except ConfigError as exc:
            problems.extend(str(exc).splitlines())
    return problems


def validate_settings(settings: Settings, registries: Registries) -> None:
    """Raise ``ConfigError`` listing every plugin-section problem, or return quietly."""
    problems = plugin_problems(settings, registries)
    if problems:
        raise ConfigError("\n".join(problems))


def effective_settings(settings: Settings, registries: Registries) -> dict[str, Any]:
    """Settings as plain data with every plugin section's options validated.

    Secrets (``SecretStr`` options) print as asterisks: JSON mode never reveals them.
    """
    data: dict[str, Any] = settings.model_dump(mode="json")
    for role, where, config in plugin_sections(settings):
        options: PluginOptions = _registry(registries, role).options(config, where)
        section = {"kind": config.kind, **options.model_dump(mode="json")}
        _put(data, where.split("."), section)
    return data


def _put(data: Any, path: list[str], value: Any) -> None:
    for part in path[:-1]:
        data = data[int(part)] if isinstance(data, list) else data[part]
    last = path[-1]
    if isinstance(data, list):
        data[int(last)] = value
    else:
        data[last] = value


# --------------------------------------------------------------------------------------------
# Simulation inputs: ``carbonshift simulate`` and ``demo`` get ``forecasts`` code only here


def load_traces(paths: Sequence[Path], *, signal: str = "lca") -> dict[str, IntensityTrace]:
    """Carbon traces per zone from CSV files of either format (``forecasts.traces``).

    ``signal`` picks the Electricity Maps column: ``lca`` or ``direct``.

    Raises:
        ScenarioError: a file is missing or malformed (the message names file and line),
            or ``signal`` is neither ``lca`` nor ``direct``.
    """
    if signal not in SIGNALS:
        raise ScenarioError(f"unknown signal {signal!r}; choose one of: {', '.join(SIGNALS)}")
    return load_carbon_traces(paths, signal=signal)


def demo_grid_traces(
    zones: Sequence[str], start: datetime, end: datetime, *, seed: int = 0
) -> dict[str, IntensityTrace]:
    """The built-in demo grid's synthetic truth for ``zones`` over ``[start, end)``.

    Raises:
        ForecastError: a zone the demo grid does not model (the message lists those it does).
    """
    grid = DemoGridProvider(clock=FakeClock(start), seed=seed)
    return {zone: grid.trace(zone, start, end) for zone in zones}


def signal_forecaster() -> IntervalForecaster:
    """The forecaster for beyond the providers' horizon (``forecasts.forecaster``).

    Behind ``carbonshift simulate --forecast model`` and ``carbonshift forecast evaluate``;
    a fresh one per call, because it keeps per-zone state as history arrives.
    """
    return LagRidgeForecaster()


# --------------------------------------------------------------------------------------------
# The ledger (issue 8): it lives in the job store's database, so it follows ``store``.


def store_url(settings: Settings) -> str | None:
    """The database URL of the configured store, or None for the in-memory store."""
    options = default_registries().stores.options(settings.store, "store")
    if isinstance(options, SqliteOptions):
        return (
            f"sqlite:///{options.path}" if options.path else default_sqlite_url(settings.data_dir)
        )
    if isinstance(options, PostgresOptions):
        return options.url.get_secret_value()
    return None


def build_ledger(settings: Settings) -> Ledger:
    """The ledger in the store's database (migrated), or in memory with the memory store."""
    url = store_url(settings)
    return MemoryLedger() if url is None else SqlLedger(open_database(url))


def build_history(settings: Settings, clock: Clock) -> HistoryChain:
    """Realised intensity from the ``forecasts`` section's providers that serve history."""
    ctx = WiringContext(settings=settings, clock=clock)
    registry = default_registries().forecast_providers

    def sources(chain: Sequence[PluginConfig], where: str) -> list[IntensityHistory]:
        built = [registry.build(c, ctx, f"{where}.{i}") for i, c in enumerate(chain)]
        return [p for p in built if isinstance(p, IntensityHistory)]

    section = settings.forecasts
    zones = {z: sources(c, f"forecasts.zones.{z}") for z, c in section.zones.items()}
    return HistoryChain(sources(section.default, "forecasts.default"), zones)


def attach_accounting(graph: ServiceGraph, ledger: Ledger | None = None) -> AccountingHook:
    """Account every attempt that ends in ``graph``'s service into the ledger."""
    settings = graph.settings
    recorder = LedgerRecorder(
        ledger=ledger if ledger is not None else graph.ledger,
        history=build_history(settings, graph.clock),
        forecasts=graph.forecasts,
        version=dist_version("carbonshift"),
    )
    meter = LogEnergyMeter(graph.clusters)  # the per-job runner's reports (issue 7)
    hook = AccountingHook(
        recorder=recorder,
        regions=graph.service.regions,
        default_zone=settings.default_zone,
        meter=meter,
        cap_outcome=meter.cap_outcome,
    )
    graph.service.add_finished_hook(hook)
    return hook


# --------------------------------------------------------------------------------------------
# GPU power (issue 7): backends, and the node agent that ``carbonshift agent`` runs and talks to

#: The simulated GPUs' device state, inside the agent's state directory.
SIMULATED_STATE_NAME = "simulated-gpus.json"


def _simulated_power(options: SimulatedOptions, ctx: WiringContext) -> PowerBackend:
    state_dir = options.state_dir or ctx.data_dir / "agent"
    return SimulatedPowerBackend(
        state_file=state_dir / SIMULATED_STATE_NAME,
        gpus=options.gpus,
        curve=shipped_curve(options.gpu_type, options.workload),
        clock=ctx.clock,
        mig_indices=options.mig_indices,
    )


def _nvml_power(_options: NvmlOptions, ctx: WiringContext) -> PowerBackend:
    return NvmlPowerBackend.load(ctx.clock)


def _register_power(registries: Registries) -> None:
    power = registries.power_backends
    power.register("simulated", SimulatedOptions, _simulated_power, "virtual GPUs (Zeus curves)")
    power.register("nvml", NvmlOptions, _nvml_power, "NVIDIA GPUs through NVML")


def build_power_backend(
    settings: Settings,
    clock: Clock,
    *,
    kind: str | None = None,
    gpus: int | None = None,
    state_dir: Path | None = None,
) -> PowerBackend:
    """The ``power`` section's backend; ``kind``/``gpus``/``state_dir`` override it (CLI).

    Simulated GPUs keep their device state in ``state_dir`` (beside the agent's journal).
    """
    config = settings.power if kind is None else PluginConfig(kind=kind)
    options = config.options() if kind in (None, config.kind) else {}
    if config.kind == "simulated":
        if gpus is not None:
            options["gpus"] = gpus
        if state_dir is not None:
            options["state_dir"] = state_dir
    ctx = WiringContext(settings=settings, clock=clock)
    return default_registries().power_backends.build(
        PluginConfig(kind=config.kind, **options), ctx, "power"
    )


#: How a node starts carbonshift's CLI (the per-job runner, the embedded agent): this
#: interpreter, so the Ray workers of the embedded cluster use the same installation.
CLI_PROGRAM = (sys.executable, "-c", "from scheduler.cli.main import main; main()")


def agent_state_dir(settings: Settings) -> Path:
    """The node agent's state directory the runner is told: ``power.state_dir`` (simulated),
    else ``data_dir/agent`` (the same path on every node)."""
    configured = settings.power.options().get("state_dir")
    return Path(configured) if configured else settings.data_dir / "agent"


#: How a remote cluster's node starts the runner: the ``carbonshift`` on its PATH.
REMOTE_CLI_PROGRAM = ("carbonshift",)


def runner_dispatch(
    settings: Settings, program: Sequence[str] = CLI_PROGRAM
) -> RunnerDispatch | None:
    """How capped jobs are wrapped with the per-job runner, or None (``service.meter_jobs``)."""
    if not settings.service.meter_jobs:
        return None
    return RunnerDispatch(
        program=tuple(program),
        state_dir=agent_state_dir(settings),
        backend=settings.power.kind,
        sample_s=settings.service.runner_sample_s,
    )


def capped_entrypoint(
    ctx: WiringContext, *, embedded_agent_gpus: int | None
) -> Callable[[Job, int], Sequence[str]] | None:
    """``RayCluster``'s argv builder: capped jobs run under the per-job runner.

    With ``embedded_agent_gpus`` (the embedded Ray's logical GPUs) and simulated power, the
    first capped job starts a simulated node agent on the state directory (``EmbeddedAgent``),
    stopped when the graph closes, and the runner is this interpreter's CLI. Elsewhere (an
    existing cluster) an agent must already run on every node, and the runner is the
    ``carbonshift`` on the node's PATH.
    """
    program = CLI_PROGRAM if embedded_agent_gpus else REMOTE_CLI_PROGRAM
    dispatch = runner_dispatch(ctx.settings, program)
    if dispatch is None:
        return None
    agent = None
    if embedded_agent_gpus and ctx.settings.power.kind == "simulated":
        agent = EmbeddedAgent(
            program=CLI_PROGRAM, state_dir=dispatch.state_dir, gpus=embedded_agent_gpus
        )
        ctx.resources.callback(agent.stop)

    def entrypoint(job: Job, attempt: int) -> Sequence[str]:
        if agent is not None and dispatch.wraps(job.spec):
            try:
                agent.ensure_started()
            except PowerError as exc:
                raise ClusterUnavailable(f"cannot dispatch capped job {job.id}: {exc}") from exc
        return dispatch.argv(job, attempt)

    return entrypoint


def caps_publisher(settings: Settings) -> Callable[[Job], None] | None:
    """``ClusterJobControl``'s ``on_caps_changed``: the running attempt's caps file, which its
    runner re-reads every sampling period, so new caps apply within one (None: not metered).
    The file is written on this machine: runners on other nodes see it only through a shared
    ``power.state_dir``."""
    dispatch = runner_dispatch(settings)
    if dispatch is None:
        return None

    def publish(job: Job) -> None:
        dispatch.write_caps(job)

    return publish


def power_levels(settings: Settings) -> list[PowerLevel]:
    """The power–throughput curve carbon-aware power capping plans with: the simulated
    backend's ``gpu_type``/``workload`` (default V100 ImageNet ResNet-50, Zeus traces)."""
    options = settings.power.options() if settings.power.kind == "simulated" else {}
    defaults = SimulatedOptions()
    curve = shipped_curve(
        str(options.get("gpu_type", defaults.gpu_type)),
        str(options.get("workload", defaults.workload)),
    )
    return [
        PowerLevel(
            limit_w=point.limit_w,
            power_w=curve.power_w(point.limit_w),
            throughput=curve.throughput(point.limit_w),
        )
        for point in curve.points
    ]


def serve_node_agent(backend: PowerBackend, state_dir: Path, clock: Clock) -> None:
    """Run the node agent on ``state_dir`` until SIGTERM (``plugins.agent.process``)."""
    run_agent(backend=backend, state_dir=state_dir, clock=clock)


def node_agent_client(*, state_dir: Path | None, address: str | None) -> AgentClient:
    """A client of the node agent found through its state directory or address."""
    return AgentClient.find(state_dir=state_dir, address=address)


# --------------------------------------------------------------------------------------------
# The carbon signal (issue 4): HTTP providers, the failover chain, its cache and refresh jobs


def validation_rules(settings: Settings) -> ValidationRules:
    """The ``forecasts`` section's validation rules."""
    section = settings.forecasts
    return ValidationRules(
        min_g_per_kwh=section.min_g_per_kwh,
        max_g_per_kwh=section.max_g_per_kwh,
        max_bad_fraction=section.max_bad_fraction,
    )


def _http(options: HttpOptions, ctx: WiringContext, provider: str) -> HttpClient:
    return HttpClient(provider=provider, clock=ctx.clock, policy=options.policy())


def _electricitymaps(options: ElectricityMapsOptions, ctx: WiringContext) -> ForecastProvider:
    return ElectricityMapsProvider(
        api_key=options.api_key.get_secret_value(),
        http=_http(options, ctx, "electricitymaps"),
        clock=ctx.clock,
        rules=validation_rules(ctx.settings),
        base_url=options.base_url,
    )


def _watttime(options: WattTimeOptions, ctx: WiringContext) -> ForecastProvider:
    return WattTimeProvider(
        username=options.username,
        password=options.password.get_secret_value(),
        http=_http(options, ctx, "watttime"),
        clock=ctx.clock,
        rules=validation_rules(ctx.settings),
        base_url=options.base_url,
        signal_type=options.signal_type,
        horizon_hours=options.horizon_hours,
        token_lifetime_s=options.token_lifetime_s,
        token_refresh_margin_s=options.token_refresh_margin_s,
    )


def _ukci(options: UkCarbonIntensityOptions, ctx: WiringContext) -> ForecastProvider:
    return UkCarbonIntensityProvider(
        http=_http(options, ctx, "ukci"),
        clock=ctx.clock,
        rules=validation_rules(ctx.settings),
        base_url=options.base_url,
        regions=options.regions,
    )


def _carbon_aware_sdk(options: CarbonAwareSdkOptions, ctx: WiringContext) -> ForecastProvider:
    return CarbonAwareSdkProvider(
        base_url=options.base_url,
        http=_http(options, ctx, "carbon-aware-sdk"),
        clock=ctx.clock,
        rules=validation_rules(ctx.settings),
        signal=options.signal,
    )


def _register_signal_providers(registries: Registries) -> None:
    providers = registries.forecast_providers
    providers.register(
        "electricitymaps", ElectricityMapsOptions, _electricitymaps, "Electricity Maps API v3"
    )
    providers.register("watttime", WattTimeOptions, _watttime, "WattTime API v3 (marginal)")
    providers.register("ukci", UkCarbonIntensityOptions, _ukci, "GB Carbon Intensity API")
    providers.register(
        "carbon-aware-sdk", CarbonAwareSdkOptions, _carbon_aware_sdk, "Carbon Aware SDK WebAPI"
    )


def build_forecast_cache(settings: Settings) -> ForecastCache:
    """The forecast cache in the store's database (migrated), or in memory for ``memory``."""
    url = store_url(settings)
    return MemoryForecastCache() if url is None else SqlForecastCache(open_database(url))


def build_forecast_chain(
    settings: Settings,
    clock: Clock,
    *,
    cache: ForecastCache | None = None,
    forecaster: SignalForecaster | None = None,
) -> ForecastChain:
    """The per-zone failover chain of the ``forecasts`` section.

    ``forecaster`` is the last link (the fallback forecaster from history); by default it is
    ``signal_forecaster()``, and while none is wired the chain ends with the cache.
    """
    if forecaster is None:
        try:
            forecaster = signal_forecaster()
        except ConfigError:
            forecaster = None
    ctx = WiringContext(settings=settings, clock=clock)
    registry = default_registries().forecast_providers
    section = settings.forecasts

    def build(chain: Sequence[PluginConfig], where: str) -> list[ForecastProvider]:
        return [registry.build(c, ctx, f"{where}.{i}") for i, c in enumerate(chain)]

    return ForecastChain(
        default=build(section.default, "forecasts.default"),
        zones={zone: build(c, f"forecasts.zones.{zone}") for zone, c in section.zones.items()},
        cache=cache if cache is not None else build_forecast_cache(settings),
        clock=clock,
        rules=validation_rules(settings),
        policy=ChainPolicy(
            ttl=timedelta(minutes=section.ttl_minutes),
            history_window=timedelta(days=section.history_days),
        ),
        forecaster=forecaster,
    )


def schedule_forecast_refreshes(
    scheduler: BaseScheduler,
    chain: ForecastChain,
    settings: Settings,
    clock: Clock,
    cache: ForecastCache,
) -> list[ApsJob]:
    """One staggered refresh job per zone (the regions' zones and the configured ones).

    Missed runs coalesce; a run more than half an interval late (at most 5 min) is skipped.
    """
    zones = sorted({region.zone for region in settings.regions} | set(settings.forecasts.zones))
    interval = timedelta(minutes=settings.forecasts.refresh_minutes)
    return schedule_refreshes(
        scheduler,
        chain.refresh,
        zones,
        clock=clock,
        cache=cache,
        interval=interval,
        misfire_grace=min(interval / 2, timedelta(minutes=5)),
    )


def wrap_job_with_power(
    settings: Settings,
    clock: Clock,
    *,
    argv: Sequence[str],
    job_id: str,
    attempt: int,
    caps: dict[str, Any],
    caps_file: Path | None,
    visible_devices: str,
    estimated_duration_s: float | None,
    sample_s: float,
    report_path: Path | None,
    backend: str | None,
    state_dir: Path | None,
    address: str | None,
) -> int:
    """Run a job metered and capped on this node (``carbonshift agent wrap``); its exit status.

    ``caps`` holds ``power_cap_w``, ``energy_cap_kwh`` and ``policy`` (``plugins.power.runner``).
    """
    meter = build_power_backend(settings, clock, kind=backend, state_dir=state_dir)
    return wrap_job(
        argv=argv,
        job_id=job_id,
        attempt=attempt,
        caps=JobCaps(**caps),
        caps_file=caps_file,
        visible_devices=visible_devices,
        estimated_duration_s=estimated_duration_s,
        sample_s=sample_s,
        report_path=report_path,
        meter=meter,
        agent=lambda: node_agent_client(state_dir=state_dir, address=address),
        clock=clock,
    )


# --------------------------------------------------------------------------------------------
# The REST API (issue 6): API tokens live in the job store's database.


def build_token_store(settings: Settings, store: JobStore | None = None) -> TokenStore:
    """API tokens beside the jobs: ``store``'s database, the configured one, or memory."""
    if isinstance(store, SqlJobStore):
        return SqlTokenStore(store.engine)
    url = store_url(settings)
    return InMemoryTokenStore() if url is None else SqlTokenStore(open_database(url))


@contextmanager
def open_token_store(settings: Settings) -> Iterator[TokenStore]:
    """The configured database's token store for one command; its engine is closed after."""
    url = store_url(settings)
    if url is None:
        yield InMemoryTokenStore()
        return
    engine = open_database(url)
    try:
        yield SqlTokenStore(engine)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------
# The scheduler service (issue 5): ``carbonshift serve`` builds it here; the API may reuse it.


@dataclass(kw_only=True)
class ServiceGraph:
    """Everything a running scheduler needs, built from settings; ``close()`` tears it down."""

    settings: Settings
    clock: Clock
    store: JobStore
    clusters: dict[str, Cluster]
    forecasts: ForecastChain
    forecast_cache: ForecastCache
    service: SchedulerService
    lock: SchedulerLock
    resources: ExitStack
    #: the one ledger of this process: accounting appends to it, the API and budgets read it
    ledger: Ledger
    #: planner time and forecast errors of the service (the API serves them at ``/metrics``)
    metrics: ServiceMetrics

    def runner(self) -> ServiceRunner:
        """The runner: ticks every ``service.tick_seconds`` beside the forecast refreshes."""

        def refreshes(scheduler: BaseScheduler) -> None:
            schedule_forecast_refreshes(
                scheduler, self.forecasts, self.settings, self.clock, self.forecast_cache
            )

        return ServiceRunner(
            service=self.service,
            lock=self.lock,
            tick_seconds=self.settings.service.tick_seconds,
            extra_jobs=[refreshes],
        )

    def close(self) -> None:
        """Release the scheduler lock and stop what the graph started (the local Ray head)."""
        self.lock.release()
        self.resources.close()


def scheduler_lock(settings: Settings, store: JobStore) -> SchedulerLock:
    """The lock that keeps one scheduler per database (see ``plugins.stores.lock``)."""
    if not isinstance(store, SqlJobStore):
        return NoLock()
    if store.engine.dialect.name == "postgresql":
        return PostgresAdvisoryLock(store.engine)
    database = store.engine.url.database or str(settings.data_dir / "carbonshift.db")
    return FileLock(Path(f"{database}.scheduler-lock"))


def planning_policy(name: str) -> Any:
    """The planning policy called ``name`` (``scheduler.planning.policies``)."""
    from scheduler.planning.policies import get_policy  # noqa: PLC0415  (keeps imports light)

    try:
        return get_policy(name)
    except ConfigError as exc:
        raise ConfigError(f"planner.policy: {exc}") from exc


def service_config(settings: Settings) -> ServiceConfig:
    """The service's behaviour from the ``planner`` and ``service`` sections."""
    planner = settings.planner
    return ServiceConfig(
        planning=PlanningConfig(
            slot_s=planner.slot_minutes * 60,
            horizon_s=int(planner.horizon_h * 3600),
            safety_margin=planner.safety_margin,
            max_segments=planner.max_segments,
            resume_overhead_s=planner.resume_overhead_s,
            max_planned_jobs=settings.service.max_planned_jobs,
            arrival_forecast=planner.arrival_forecast,
            arrival_reserve=planner.arrival_reserve,
            arrival_insurance=planner.arrival_insurance,
        ),
        pending_timeout_s=settings.service.pending_timeout_s,
        default_zone=settings.default_zone,
    )


def build_service(
    settings: Settings,
    clock: Clock,
    *,
    registries: Registries | None = None,
    on_finished: Sequence[FinishedHook] = (),
    lock: bool = True,
    metrics: ServiceMetrics | None = None,
) -> ServiceGraph:
    """Build the scheduler: store, the scheduler lock (taken first, before any cluster
    starts, unless ``lock=False``), one cluster per region, forecasts and the service.

    Raises:
        SchedulerLockedError: another scheduler already schedules this database.
        ConfigError, StoreError, ClusterUnavailable: while building.
    """
    from scheduler.api.metrics import (  # noqa: PLC0415  (API modules load only for serve)
        InstrumentedForecastProvider,
        ServiceMetrics,
        TimedPolicy,
    )

    registries = registries or default_registries()
    validate_settings(settings, registries)
    ctx = WiringContext(settings=settings, clock=clock)
    with ExitStack() as undo:
        undo.callback(ctx.resources.close)
        store = registries.stores.build(settings.store, ctx, "store")
        the_lock = scheduler_lock(settings, store) if lock else NoLock()
        the_lock.acquire()
        undo.callback(the_lock.release)
        clusters = {
            region.name: registries.clusters.build(
                region.cluster, ClusterContext(wiring=ctx, region=region), f"regions.{i}.cluster"
            )
            for i, region in enumerate(settings.regions)
        }
        cache = build_forecast_cache(settings)
        chain = build_forecast_chain(settings, clock, cache=cache)
        regions = [
            Region(name=r.name, zone=r.zone, gpus=r.gpus, pue=r.pue) for r in settings.regions
        ]
        metrics = metrics or ServiceMetrics(clock=clock)
        ledger = (
            SqlLedger(store.engine) if isinstance(store, SqlJobStore) else build_ledger(settings)
        )
        service = SchedulerService(
            store=store,
            clusters=clusters,
            regions=regions,
            forecasts=InstrumentedForecastProvider(chain, metrics),
            policy=TimedPolicy(planning_policy(settings.planner.policy), metrics),
            clock=clock,
            config=service_config(settings),
            on_finished=on_finished,
            budgets=LedgerBudgets(ledger=ledger, settings=settings.budgets)
            if settings.budgets.teams
            else None,
        )
        undo.pop_all()
    return ServiceGraph(
        settings=settings,
        clock=clock,
        store=store,
        clusters=clusters,
        forecasts=chain,
        forecast_cache=cache,
        service=service,
        lock=the_lock,
        resources=ctx.resources,
        ledger=ledger,
        metrics=metrics,
    )


def start_api_beside(
    graph: ServiceGraph,
    *,
    say: Callable[[str], None],
    host: str | None = None,
    port: int | None = None,
) -> ApiServer:
    """Serve the REST API and the dashboard beside ``graph``'s scheduler (``carbonshift serve``).

    First decisions come from the planner run for the new job alone (``PreviewDecisions``);
    cancelling stops attempts through the graph's clusters; the ledger, tokens and jobs share
    the store's database.
    """
    # The API, FastAPI and the dashboard load only when a server starts.
    from scheduler.api.collaborators import (  # noqa: PLC0415
        ClusterJobControl,
        RecordedDecisions,
    )
    from scheduler.api.metrics import InstrumentedForecastProvider, TimedPolicy  # noqa: PLC0415
    from scheduler.api.preview import PreviewDecisions  # noqa: PLC0415
    from scheduler.api.serving import start_api  # noqa: PLC0415
    from scheduler.dashboard import dashboard_router  # noqa: PLC0415

    settings, clock = graph.settings, graph.clock
    metrics = graph.metrics
    forecasts = InstrumentedForecastProvider(graph.forecasts, metrics)
    preview = PreviewDecisions(
        regions=graph.service.regions,
        clusters=graph.clusters,
        forecasts=forecasts,
        policy=TimedPolicy(planning_policy(settings.planner.policy), metrics),
        config=service_config(settings).planning,
        default_zone=settings.default_zone,
        clock=clock,
    )
    decisions = RecordedDecisions(preview)
    graph.service.add_decision_hook(decisions.record)  # GET /v1/jobs/{id}: each tick's decision
    return start_api(
        settings,
        store=graph.store,
        tokens=build_token_store(settings, graph.store),
        clock=clock,
        say=say,
        host=host,
        port=port,
        ledger=graph.ledger,
        forecasts=forecasts,
        decisions=decisions,
        control=ClusterJobControl(
            graph.store, graph.clusters, on_caps_changed=caps_publisher(settings)
        ),
        metrics=metrics,
        extra_routers=[dashboard_router(sorted(settings.known_zones()))],
    )


#: The demo's runner sampling period: its jobs run seconds of real time.
DEMO_SAMPLE_S = 0.5


@contextmanager
def demo_service(
    regions: Sequence[Region],
    clock: Clock,
    *,
    seed: int,
    slot_s: int,
    head: LocalRayHead | None = None,
    power_dir: Path | None = None,
) -> Iterator[SchedulerService]:
    """``carbonshift demo``'s scheduler: an in-memory store and ONE local Ray head whose
    logical GPUs are shared by the demo's regions (each region's cluster counts only its own
    jobs), planning on the demo grid on ``clock``. The head (started here unless ``head`` is
    given) stops when the block ends. With ``power_dir`` capped jobs run under the per-job
    runner against a simulated-GPU agent started there (``DEMO_SAMPLE_S`` sampling)."""
    from plugins.clusters.ray import RayCluster  # noqa: PLC0415  (loads Ray only when a cluster is built)

    with ExitStack() as stack:
        gpus = sum(r.gpus for r in regions)
        if head is None:
            head = stack.enter_context(LocalRayHead(num_gpus=gpus))
        entrypoint = None
        if power_dir is not None:
            agent = EmbeddedAgent(program=CLI_PROGRAM, state_dir=power_dir, gpus=gpus)
            stack.callback(agent.stop)
            agent.ensure_started()
            dispatch = RunnerDispatch(
                program=CLI_PROGRAM, state_dir=power_dir, sample_s=DEMO_SAMPLE_S
            )
            entrypoint = dispatch.argv
        clusters: dict[str, Cluster] = {
            region.name: RayCluster(
                region=region.name, address=head.address, token=head.token, entrypoint=entrypoint
            )
            for region in regions
        }
        yield SchedulerService(
            store=InMemoryJobStore(),
            clusters=clusters,
            regions=regions,
            forecasts=DemoGridProvider(clock=clock, seed=seed),
            policy=planning_policy("carbonshift"),
            clock=clock,
            config=ServiceConfig(
                planning=PlanningConfig(slot_s=slot_s, horizon_s=48 * 3600),
                # hours of demo time pass while Ray starts a job in seconds of real time
                pending_timeout_s=30 * 24 * 3600,
            ),
        )
