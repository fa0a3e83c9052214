"""The composition root: the one module of ``scheduler`` that imports ``forecasts`` and
``plugins``. It registers every plugin by name and builds the object graph from settings.

Adding a backend means: write it in its role folder, then add one ``register`` line below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forecasts.static import StaticOptions, StaticProvider
from scheduler.errors import ConfigError, UnknownPluginError
from scheduler.protocols import Clock, Cluster, ForecastProvider, JobStore, PowerBackend
from scheduler.registry import PluginOptions, Registry
from scheduler.settings import PluginConfig, RegionConfig, Settings


@dataclass(frozen=True, kw_only=True)
class WiringContext:
    """What every factory may use: the settings, the clock and the data directory."""

    settings: Settings
    clock: Clock

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


def default_registries() -> Registries:
    """Every plugin that ships with carbonshift, by role."""
    registries = Registries()
    registries.forecast_providers.register(
        "static", StaticOptions, _static_provider, "constant intensity per zone"
    )
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
