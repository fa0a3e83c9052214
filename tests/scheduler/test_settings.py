"""Settings: YAML file, environment overrides, plugin options, secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scheduler.errors import ConfigError
from scheduler.settings import PluginConfig, load_settings
from scheduler.wiring import (
    default_registries,
    effective_settings,
    plugin_problems,
    service_config,
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No stray CARBONSHIFT_* variables or ./carbonshift.yaml leak into these tests."""
    for name in list(os.environ):
        if name.startswith("CARBONSHIFT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "carbonshift.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_need_no_file(tmp_path: Path) -> None:
    """Without a file or environment, defaults apply (one local region)."""
    settings = load_settings()
    assert settings.planner.slot_minutes == 15
    assert [region.name for region in settings.regions] == ["local"]


def test_file_is_read_and_environment_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Environment variables nested with __ override the YAML file."""
    path = write(tmp_path, "planner:\n  slot_minutes: 30\n  horizon_h: 24\n")
    monkeypatch.setenv("CARBONSHIFT_PLANNER__SLOT_MINUTES", "60")
    settings = load_settings(path)
    assert settings.planner.slot_minutes == 60
    assert settings.planner.horizon_h == 24


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$CARBONSHIFT_CONFIG names the file when --config is absent."""
    path = tmp_path / "elsewhere.yaml"
    path.write_text("default_zone: FR\n", encoding="utf-8")
    monkeypatch.setenv("CARBONSHIFT_CONFIG", str(path))
    assert load_settings().default_zone == "FR"


def test_local_file_is_found(tmp_path: Path) -> None:
    """./carbonshift.yaml is read when nothing else names a file."""
    write(tmp_path, "default_zone: GB\n")
    assert load_settings().default_zone == "GB"


def test_unknown_top_level_key_is_named(tmp_path: Path) -> None:
    """A misspelt section fails loudly naming the key."""
    path = write(tmp_path, "planer:\n  slot_minutes: 30\n")
    with pytest.raises(ConfigError, match="unknown key 'planer'"):
        load_settings(path)


def test_unknown_nested_key_is_named(tmp_path: Path) -> None:
    """A misspelt option inside a section is named with its location."""
    path = write(tmp_path, "planner:\n  slot_minuts: 30\n")
    with pytest.raises(ConfigError, match=r"planner\.slot_minuts: unknown key 'slot_minuts'"):
        load_settings(path)


def test_every_problem_is_listed(tmp_path: Path) -> None:
    """All problems are reported at once, not just the first."""
    path = write(tmp_path, "planner:\n  slot_minutes: 0\napi:\n  port: 70000\nbogus: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "3 problem(s)" in message
    assert "planner.slot_minutes" in message
    assert "api.port" in message
    assert "bogus" in message


def test_arrival_settings_reach_the_service_and_reject_negatives(tmp_path: Path) -> None:
    """planner.arrival_reserve / arrival_forecast / arrival_insurance reach the service's
    planning (the reserve on at 1.5 by default, 0 turns it off; no insurance by default);
    below 0 they are named in the error, and so is insurance without the reserve."""
    default = service_config(load_settings(write(tmp_path, "planner: {}\n"))).planning
    assert (default.arrival_reserve, default.arrival_forecast) == (1.5, 0.0)
    assert default.arrival_insurance == 0.0
    path = write(
        tmp_path,
        "planner:\n  arrival_reserve: 2\n  arrival_forecast: 1.25\n  arrival_insurance: 1.5\n",
    )
    planning = service_config(load_settings(path)).planning
    assert (planning.arrival_reserve, planning.arrival_forecast) == (2.0, 1.25)
    assert planning.plan_settings().arrival_insurance == 1.5
    assert planning.plan_settings().uses_history
    path = write(tmp_path, "planner:\n  arrival_reserve: 0\n")
    assert not service_config(load_settings(path)).planning.plan_settings().uses_history
    path = write(tmp_path, "planner:\n  arrival_reserve: -1\n")
    with pytest.raises(ConfigError, match=r"planner\.arrival_reserve"):
        load_settings(path)
    path = write(tmp_path, "planner:\n  arrival_reserve: 0\n  arrival_insurance: 1.5\n")
    with pytest.raises(ConfigError, match=r"planner.*arrival_insurance 1\.5 needs arrival_reserve"):
        load_settings(path)


def test_malformed_yaml_names_the_file(tmp_path: Path) -> None:
    """A YAML syntax error names the file."""
    path = write(tmp_path, "planner: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_settings(path)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    """An explicit file that does not exist is an error, not silently ignored."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")


def test_duplicate_region_names_are_rejected(tmp_path: Path) -> None:
    """Region names identify clusters, so they must be unique."""
    path = write(
        tmp_path,
        "regions:\n  - {name: a, zone: DE}\n  - {name: a, zone: FR}\n",
    )
    with pytest.raises(ConfigError, match=r"repeated: \['a'\]"):
        load_settings(path)


def test_plugin_options_are_checked_against_the_plugin(tmp_path: Path) -> None:
    """Unknown plugin options name the key and the plugin, with its valid options."""
    path = write(
        tmp_path,
        "forecasts:\n  default:\n    - kind: static\n"
        "      g_per_kwh: {DE: 300}\n      colour: red\n",
    )
    problems = plugin_problems(load_settings(path), default_registries())
    matching = [p for p in problems if "colour" in p]
    assert matching == [
        "forecasts.default.0.colour: unknown key 'colour' for forecast provider plugin "
        "'static' (its options: g_per_kwh)"
    ]


def test_unknown_plugin_kind_lists_the_choices(tmp_path: Path) -> None:
    """An unknown kind names itself and the registered kinds."""
    path = write(tmp_path, "forecasts:\n  default:\n    - kind: crystal-ball\n")
    problems = plugin_problems(load_settings(path), default_registries())
    assert any("unknown forecast provider kind 'crystal-ball'" in p for p in problems)


def test_known_zones_collects_regions_and_forecasts(tmp_path: Path) -> None:
    """Zones a job may name come from regions, forecast chains and the default zone."""
    path = write(
        tmp_path,
        "default_zone: GB\nregions:\n  - {name: a, zone: DE}\nforecasts:\n"
        "  zones:\n    FR: [{kind: static, g_per_kwh: {FR: 50}}]\n",
    )
    assert load_settings(path).known_zones() == {"DE", "FR", "GB"}


def test_plugin_config_separates_kind_from_options() -> None:
    """A plugin section's options are every key but kind."""
    config = PluginConfig.model_validate({"kind": "static", "g_per_kwh": {"DE": 1.0}})
    assert config.options() == {"g_per_kwh": {"DE": 1.0}}


def test_effective_settings_validate_plugin_sections(tmp_path: Path) -> None:
    """config show renders each plugin section through its options model."""
    path = write(
        tmp_path,
        "forecasts:\n  default:\n    - kind: static\n      g_per_kwh: {DE: 300}\n",
    )
    data = effective_settings(load_settings(path), default_registries())
    assert data["forecasts"]["default"] == [{"kind": "static", "g_per_kwh": {"DE": 300.0}}]


def test_default_settings_have_no_plugin_problems() -> None:
    """Every kind the defaults name (sqlite, ray-local, simulated, demo-grid) is registered."""
    assert plugin_problems(load_settings(), default_registries()) == []
