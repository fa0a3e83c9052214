"""Policies by name: the one place that knows which planners exist.

``get_policy("carbonshift")`` is the default planner; the others are the baselines the
simulator and benchmarks compare it with, and ``oracle`` the offline optimum.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scheduler.errors import ConfigError, UnknownPluginError
from scheduler.planning.carbon_time import CarbonTimePolicy
from scheduler.planning.carbonshift import CarbonshiftPolicy
from scheduler.planning.lowest_window import LowestWindowPolicy
from scheduler.planning.oracle import OraclePolicy
from scheduler.planning.problem import Policy
from scheduler.planning.run_now import RunNowPolicy
from scheduler.planning.threshold import ThresholdPolicy

DEFAULT_POLICY = "carbonshift"

#: name → policy class; every class takes only keyword options with defaults
POLICIES: Mapping[str, Callable[..., Policy]] = {
    "carbonshift": CarbonshiftPolicy,
    "run-now": RunNowPolicy,
    "lowest-window": LowestWindowPolicy,
    "carbon-time": CarbonTimePolicy,
    "threshold": ThresholdPolicy,
    "oracle": OraclePolicy,
}


def policy_names() -> list[str]:
    """Every valid policy name, default first."""
    return [DEFAULT_POLICY, *sorted(name for name in POLICIES if name != DEFAULT_POLICY)]


def get_policy(name: str, **options: Any) -> Policy:
    """The policy called ``name``, built with ``options``.

    Raises:
        UnknownPluginError: ``name`` is not a policy; the message lists the valid names.
    """
    try:
        factory = POLICIES[name]
    except KeyError:
        raise UnknownPluginError(
            f"unknown planning policy {name!r}; choose one of: {', '.join(policy_names())}"
        ) from None
    try:
        return factory(**options)
    except TypeError as exc:
        raise ConfigError(
            f"policy {name!r} does not take options {sorted(options)}: {exc}; "
            "check the option names against the policy class"
        ) from exc


__all__ = ["DEFAULT_POLICY", "POLICIES", "get_policy", "policy_names"]
