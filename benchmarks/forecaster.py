"""Forecaster benchmark: the lag-ridge model against two naive baselines on 2023 data.

Protocol (``scheduler.forecast_evaluation``): for each zone the 2022 and 2023 Electricity Maps
exports (``../shared/data/green-dcc``, LCA signal) are loaded; a forecast is issued after every
hour from 2023-01-01 00:00 UTC on, from the past only (2022 and the 2023 hours observed so
far); the model's weights are re-solved every 24 h of new data. Scored: MAPE at 1, 3, 6, 12, 24
and 48 h against persistence and same-hour-previous-day, measured in the same run.

Target (issue 4): the ratio of the model's MAPE to the better baseline's, averaged over the six
zones and six horizons, ≤ 0.80, no single ratio above 1.02, each zone-year in under a minute.

Usage: .venv/bin/python benchmarks/forecaster.py [--zones DE-LU,GB] [--horizons 1,24]
       [--ridge 1e-3] [--lags-h 168]
The last line is JSON: every score, the mean and max ratio, seconds per zone and pass/fail.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from forecasts.forecaster import LagRidgeConfig, LagRidgeForecaster
from forecasts.traces import load_carbon_traces
from scheduler.forecast_evaluation import HorizonScore, evaluate_zone

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "green-dcc" / "carbon_intensity"
ZONES = "DE-LU,GB,US-CAL-CISO,US-TEX-ERCO,AU-VIC,CA-ON"
HORIZONS = "1,3,6,12,24,48"
FROM = datetime(2023, 1, 1, tzinfo=UTC)
TARGET_MEAN, TARGET_MAX, TARGET_S = 0.80, 1.02, 60.0


def main() -> int:
    """Evaluate every zone; exit 1 when the target is missed."""
    args = parse()
    horizons = [int(h) for h in args.horizons.split(",")]
    config = replace(LagRidgeConfig(), ridge=args.ridge, lags_h=args.lags_h)
    scores: list[HorizonScore] = []
    seconds: dict[str, dict[str, float]] = {}
    for folder in args.zones.split(","):
        files = [DATA / folder / str(year) / f"{folder}_{year}_hourly.csv" for year in (2022, 2023)]
        (trace,) = load_carbon_traces(files, signal="lca").values()
        wall, cpu = time.perf_counter(), time.process_time()
        scores += evaluate_zone(LagRidgeForecaster(config), trace, horizons, evaluate_from=FROM)
        seconds[trace.zone] = {
            "wall_s": round(time.perf_counter() - wall, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
        }
    print_table(scores, seconds)
    summary = summarise(scores, seconds)
    print(json.dumps(summary))
    return 0 if summary["pass"] else 1


def parse() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", default=ZONES, help="folders under green-dcc/carbon_intensity")
    parser.add_argument("--horizons", default=HORIZONS, help="hours, comma-separated")
    parser.add_argument("--ridge", type=float, default=LagRidgeConfig().ridge)
    parser.add_argument("--lags-h", type=int, default=LagRidgeConfig().lags_h)
    return parser.parse_args()


def print_table(scores: list[HorizonScore], seconds: dict[str, dict[str, float]]) -> None:
    """One row per zone and horizon."""
    print(
        f"{'zone':<12} {'h':>3} {'model %':>8} {'persist %':>9} {'prev-day %':>10} "
        f"{'ratio':>6} {'80% cover':>9} {'zone s':>7}"
    )
    for s in scores:
        cover = "-" if s.interval_coverage is None else f"{100 * s.interval_coverage:.0f} %"
        print(
            f"{s.zone:<12} {s.horizon_h:>3} {s.mape_model:>8.2f} {s.mape_persistence:>9.2f} "
            f"{s.mape_previous_day:>10.2f} {s.ratio:>6.3f} {cover:>9} "
            f"{seconds[s.zone]['wall_s']:>7.1f}"
        )


def summarise(
    scores: list[HorizonScore], seconds: dict[str, dict[str, float]]
) -> dict[str, object]:
    """The JSON line: scores, mean and max ratio, time per zone, pass/fail."""
    ratios = [s.ratio for s in scores]
    mean_ratio, max_ratio = sum(ratios) / len(ratios), max(ratios)
    slowest = max(t["wall_s"] for t in seconds.values())
    return {
        "benchmark": "forecaster",
        "evaluate_from": FROM.isoformat(),
        "scores": [
            {**s.as_json(), "ratio": round(s.ratio, 4), "coverage_80": s.interval_coverage}
            for s in scores
        ],
        "mean_ratio": round(mean_ratio, 4),
        "max_ratio": round(max_ratio, 4),
        "seconds_per_zone": seconds,
        "pass": mean_ratio <= TARGET_MEAN and max_ratio <= TARGET_MAX and slowest < TARGET_S,
    }


if __name__ == "__main__":
    sys.exit(main())
