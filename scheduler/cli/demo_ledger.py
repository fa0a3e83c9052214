"""The demo's last step: its outcomes into a ledger, ``ledger verify``, and the HTML report.

The demo keeps its own ledger in ``DATA_DIR/demo/carbonshift.db`` (its synthetic jobs never
mix with real ones); inspect it with ``carbonshift --data-dir DATA_DIR/demo ledger …``.
Re-running the demo with the same seed appends nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib.metadata import version as dist_version
from pathlib import Path

from scheduler.cli.report import write_report
from scheduler.model import IntensityTrace
from scheduler.reports.html import series_from_trace
from scheduler.settings import PluginConfig, Settings
from scheduler.simulated_ledger import record_simulation, simulated_outcomes
from scheduler.simulation.accounting import RunSegment
from scheduler.simulation.scenario import Scenario
from scheduler.wiring import build_ledger


def demo_ledger_step(
    settings: Settings,
    scenario: Scenario,
    segments: Sequence[RunSegment],
    traces: Mapping[str, IntensityTrace],
    *,
    explanations: Mapping[str, str],
    seed: int,
    window: tuple[datetime, datetime],
) -> list[str]:
    """Record, verify and report; return the lines to print.

    Raises:
        LedgerIntegrityError: the demo ledger does not verify.
    """
    demo_dir = settings.data_dir / "demo"
    ledger = build_ledger(
        settings.model_copy(update={"data_dir": demo_dir, "store": PluginConfig(kind="sqlite")})
    )
    outcomes = simulated_outcomes(
        scenario, segments, explanations=explanations, id_prefix=f"demo-s{seed}-"
    )
    added = record_simulation(ledger, outcomes, traces, version=dist_version("carbonshift"))
    count = ledger.verify()
    report = demo_dir / "ledger.html"
    start, end = window
    intensity = {zone: series_from_trace(trace, start, end) for zone, trace in traces.items()}
    write_report(ledger, report, intensity=intensity)
    return [
        f"ledger: {added} entries appended; `ledger verify` passed: {count} entries, "
        f"head {ledger.head()}",
        f"ledger report: {report}",
        f"inspect it: carbonshift --data-dir {Path(demo_dir)} ledger verify | savings --by team",
    ]
