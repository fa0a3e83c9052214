"""The demo's service step: a small demo workload really runs on the shared local Ray."""

from __future__ import annotations

import re
from typing import Any

import pytest

from scheduler.cli.demo_service import demo_service_step
from scheduler.simulation.demo import DemoOptions, demo_scenario


@pytest.mark.ray
@pytest.mark.slow
def test_demo_jobs_run_on_ray_once_each(ray_head: Any) -> None:
    """Every demo job ends final before its deadline, each attempt is exactly one Ray job."""
    options = DemoOptions(jobs=5, days=1, seed=3)
    scenario = demo_scenario(options)
    line, *metered = demo_service_step(scenario, options, head=ray_head)
    found = re.search(r"ticks in \d+ s: (.*); (\d+) Ray jobs", line)
    assert found is not None, line
    counts = {state: int(n) for n, state in re.findall(r"(\d+) ([A-Z]+)", found.group(1))}
    assert sum(counts.values()) == 5
    assert counts.get("EXPIRED", 0) == 0, line  # Ray's GPUs keep in step with the fake clock
    assert counts.get("SUCCEEDED", 0) >= 1
    assert int(found.group(2)) == sum(counts.values())

    # the first three jobs carry caps and ran under the per-job runner on simulated GPUs
    assert len(metered) == 3, metered
    ran = [text for text in metered if "EXPIRED" not in text]
    assert all("Wh simulated, cap outcome" in text for text in ran), ran
    energy_capped = [text for text in ran if "(stop)" in text]
    assert all(text.endswith("cap outcome stopped → CAPPED") for text in energy_capped), ran
