"""Settings: a YAML file overridden by ``CARBONSHIFT_*`` environment variables.

Where the file comes from, first match wins: ``--config FILE``, ``$CARBONSHIFT_CONFIG``,
``./carbonshift.yaml``. Environment variables override it, nested with ``__``
(``CARBONSHIFT_STORE__KIND=postgresql``, ``CARBONSHIFT_PLANNER__SLOT_MINUTES=30``); lists and
maps take JSON (``CARBONSHIFT_REGIONS='[{"name": "de-1", "zone": "DE", "gpus": 8}]'``).

Each role that has several implementations is a section with a ``kind`` naming a plugin of
the registry (``scheduler.registry``); the rest of the section are that plugin's options,
checked by the plugin's own options model when the object graph is wired. Unknown keys fail
loudly everywhere. Only the composition root (``scheduler.wiring`` and the CLI) loads these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from scheduler.errors import ConfigError
from scheduler.planning.arrivals import CRUNCH_SURGE, RESERVE_SCALE

ENV_PREFIX = "CARBONSHIFT_"
DEFAULT_CONFIG_NAME = "carbonshift.yaml"


class Section(BaseModel):
    """Options of one settings section; unknown keys are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PluginConfig(BaseModel):
    """A role's section: ``kind`` picks the plugin, the other keys are its options."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str = Field(min_length=1)

    def options(self) -> dict[str, Any]:
        """The plugin's own options: every key but ``kind``."""
        return dict(self.model_extra or {})


class RegionConfig(Section):
    """One region: a cluster in a grid zone."""

    name: str = Field(min_length=1)
    zone: str = Field(min_length=1)
    gpus: int = Field(default=8, ge=0)
    pue: float = Field(default=1.0, ge=1.0)
    cluster: PluginConfig = PluginConfig(kind="ray-local")


class PlannerSettings(Section):
    """How the planner shifts jobs."""

    policy: str = Field(default="carbonshift", description="planning policy by name")
    slot_minutes: int = Field(default=15, ge=1, le=240)
    horizon_h: float = Field(default=48.0, gt=0, description="how far ahead plans reach")
    safety_margin: float = Field(
        default=0.1, ge=0, le=2, description="latest start = deadline − duration × (1 + this)"
    )
    resume_overhead_s: int = Field(default=0, ge=0, description="time lost per resume")
    resume_overhead_wh: float = Field(default=0.0, ge=0, description="energy per resume, per GPU")
    max_segments: int = Field(default=8, ge=1, description="most pieces of interruptible job")
    power_capping: bool = Field(
        default=False,
        description="also choose a power limit per slot for placed jobs (carbon-aware capping)",
    )
    arrival_reserve: float = Field(
        default=RESERVE_SCALE,
        ge=0,
        le=10,
        description="expect last week's jobs back a week later: rigid ones as jobs planned"
        f" beside the queue (twice over from {CRUNCH_SURGE:g} × the work of the same two days"
        " a week before), interruptible ones as this × their GPU-hours, a priced reserve over their"
        " windows; the planner then also runs queued work sooner when the last two days"
        " brought more work than a week before (1.5, the default, measured best; 0: off)",
    )
    arrival_forecast: float = Field(
        default=0.0,
        ge=0,
        le=10,
        description="hold this × the GPUs of last week's non-interruptible jobs over their"
        " latest windows, one week later (1.5 measured best; 0: off)",
    )
    arrival_insurance: float = Field(
        default=0.0,
        ge=0,
        le=10,
        description="with the arrival reserve, expect last week's interruptible jobs back as"
        " jobs, × this, that the queue must leave room for (instead of in the priced"
        " reserve): fewer missed deadlines in a cluster that is often nearly full, for less"
        " carbon saved (1.5: none missed in DE at 27 GPUs, 84 % of the optimum's savings"
        " against 96 %; 0: off, the default)",
    )

    @model_validator(mode="after")
    def _insurance_needs_the_reserve(self) -> PlannerSettings:
        if self.arrival_insurance > 0 and self.arrival_reserve <= 0:
            raise ValueError(
                f"arrival_insurance {self.arrival_insurance:g} needs arrival_reserve above 0"
                " (it replaces part of it); set arrival_reserve to 1.5, the default, or"
                " arrival_insurance to 0"
            )
        return self


class ForecastSettings(Section):
    """Where intensity comes from: an ordered provider chain per zone."""

    default: list[PluginConfig] = Field(
        default_factory=lambda: [PluginConfig(kind="demo-grid")],
        description="provider chain for zones without their own",
    )
    zones: dict[str, list[PluginConfig]] = Field(default_factory=dict)
    refresh_minutes: int = Field(default=30, ge=1)
    ttl_minutes: int = Field(default=120, ge=1)
    history_days: int = Field(
        default=63,
        ge=1,
        description="observed history fetched for the fallback forecaster (it needs 8 weeks)",
    )
    min_g_per_kwh: float = Field(default=0.0, ge=0)
    max_g_per_kwh: float = Field(default=2500.0, gt=0)
    max_bad_fraction: float = Field(default=0.05, ge=0, le=1)


class ServiceSettings(Section):
    """The long-running scheduler."""

    tick_seconds: float = Field(default=5.0, gt=0)
    pending_timeout_s: int = Field(default=600, ge=1, description="Ray PENDING before re-plan")
    local_ray_gpus: int = Field(default=8, ge=0, description="logical GPUs of the embedded Ray")
    max_planned_jobs: int = Field(
        default=64, ge=1, description="most urgent jobs planned per tick; the rest queue"
    )
    meter_jobs: bool = Field(
        default=True,
        description="run jobs with a power or energy cap under the per-job power runner",
    )
    runner_sample_s: float = Field(
        default=5.0, ge=0.1, le=300, description="the runner's sampling period (caps apply within)"
    )


class ApiSettings(Section):
    """The REST API and dashboard."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    url: str = Field(default="http://127.0.0.1:8080", description="where the CLI client goes")
    token: SecretStr | None = Field(default=None, description="the CLI client's bearer token")
    max_body_bytes: int = Field(default=65_536, ge=1024, description="largest request body")
    jobs_per_minute: int = Field(default=600, ge=1, description="submissions per token")


class TeamBudget(Section):
    """One team's carbon budget."""

    monthly_kg: float = Field(gt=0, description="kg CO2e per calendar month (UTC)")


class BudgetSettings(Section):
    """Carbon budgets per team, and what happens to a team's new jobs once one is spent."""

    teams: dict[str, TeamBudget] = Field(default_factory=dict)
    policy: Literal["restrict", "reject"] = Field(
        default="restrict", description="restrict: only windows below max_g_per_kwh; reject"
    )
    max_g_per_kwh: float = Field(default=200.0, gt=0, description="ceiling under 'restrict'")


def default_data_dir() -> Path:
    """The per-user data directory (``~/.local/share/carbonshift`` on Linux)."""
    return Path(platformdirs.user_data_dir("carbonshift", appauthor=False))


def _default_regions() -> list[RegionConfig]:
    return [RegionConfig(name="local", zone="DE")]


class Settings(BaseSettings):
    """Everything carbonshift can be told. Defaults run on one machine with nothing set up."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    default_zone: str = Field(default="DE", min_length=1)
    store: PluginConfig = PluginConfig(kind="sqlite")
    regions: list[RegionConfig] = Field(default_factory=_default_regions)
    forecasts: ForecastSettings = Field(default_factory=ForecastSettings)
    power: PluginConfig = PluginConfig(kind="simulated")
    planner: PlannerSettings = Field(default_factory=PlannerSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)

    @field_validator("regions")
    @classmethod
    def _unique_region_names(cls, value: list[RegionConfig]) -> list[RegionConfig]:
        names = [region.name for region in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"region names must be unique; repeated: {duplicates}")
        return value

    def known_zones(self) -> frozenset[str]:
        """Every zone a job may name: the regions' zones, the default zone and forecast zones."""
        zones = {region.zone for region in self.regions}
        return frozenset(zones | set(self.forecasts.zones) | {self.default_zone})


def find_config_file(explicit: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The settings file to read: explicit, then ``$CARBONSHIFT_CONFIG``, then ``./`` default."""
    if explicit is not None:
        return explicit
    from_env = environ.get(f"{ENV_PREFIX}CONFIG")
    if from_env:
        return Path(from_env)
    local = Path(DEFAULT_CONFIG_NAME)
    return local if local.is_file() else None


def _read_yaml(path: Path) -> None:
    """Fail early, with the path, on a missing or malformed file or a non-mapping top level."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"settings file {path} does not exist; check --config") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"settings file {path} is not valid YAML: {exc}") from exc
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(
            f"settings file {path} must hold a mapping of sections at the top level, "
            f"not a {type(loaded).__name__}"
        )


def format_validation_error(error: ValidationError, source: str) -> str:
    """One line per problem: where it is, what is wrong."""
    lines = [f"{source}: {error.error_count()} problem(s)"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = f"unknown key '{item['loc'][-1]}'"
        lines.append(f"  - {where}: {message}")
    return "\n".join(lines)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from the file (if any) and the environment; keyword overrides win.

    Raises:
        ConfigError: listing every problem, each with its location.
    """
    path = find_config_file(config_file, os.environ)
    if path is not None:
        _read_yaml(path)

    class _FileSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if path is not None:
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
            return tuple(sources)

    try:
        loaded = _FileSettings(**overrides)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path or "settings"))) from exc
    return loaded
