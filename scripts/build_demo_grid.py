"""Compute the demo grid's statistical model from real Electricity Maps data.

Reads the hourly Electricity Maps exports of ``../shared/data/green-dcc/carbon_intensity``
(2021–2023, LCA signal) for a few zones and writes, per zone, month and hour of day (UTC):

* ``mean_g_per_kwh`` and ``std_g_per_kwh`` — mean and day-to-day standard deviation of the
  intensity at that hour in that month;

and, per zone and month (repeated on each of its 24 rows):

* ``day_phi`` — lag-1-day autocorrelation of the daily mean of the standardised anomaly
  (how long a windy or a still spell lasts);
* ``day_share`` — the share of the hourly anomaly variance that the daily mean explains;
* ``hour_phi`` — lag-1-hour autocorrelation of what is left (within-day persistence).

``forecasts.demo_grid.DemoGridProvider`` turns this table back into realistic seeded series.
The output is a derived database of Electricity Maps data, so it is published under the Open
Database License (ODbL) with attribution to Electricity Maps (see the file's header).

Usage: python scripts/build_demo_grid.py [DATA_DIR] [OUTPUT_CSV]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from forecasts.traces import load_carbon_traces  # noqa: E402  (after the path set-up above)

DATA_DIR = REPO.parent / "shared/data/green-dcc/carbon_intensity"
OUTPUT = REPO / "forecasts/data/demo_grid.csv"
YEARS = (2021, 2022, 2023)
#: folder → zone id; a mix of high, variable, solar and clean (hydro/nuclear) grids
ZONES = {
    "DE-LU": "DE",
    "GB": "GB",
    "CA-ON": "CA-ON",
    "US-CAL-CISO": "US-CAL-CISO",
    "US-TEX-ERCO": "US-TEX-ERCO",
    "US-MIDA-PJM": "US-MIDA-PJM",
    "US-NY-NYIS": "US-NY-NYIS",
    "AU-NSW": "AU-NSW",
}
HEADER = (
    "# carbonshift demo grid: per zone, month and UTC hour, the mean and day-to-day variation\n"
    "# of life-cycle (LCA) carbon intensity in 2021-2023, computed by scripts/build_demo_grid.py\n"
    "# from Electricity Maps data (https://www.electricitymaps.com, data portal exports as\n"
    "# redistributed in HewlettPackard/green-dcc). Contains information from Electricity Maps,\n"
    "# which is made available under the Open Database License (ODbL); this derived table is\n"
    "# likewise under the ODbL: https://opendatacommons.org/licenses/odbl/1-0/\n"
)
COLUMNS = "zone,month,hour,mean_g_per_kwh,std_g_per_kwh,day_phi,day_share,hour_phi\n"


def zone_series(folder: str, zone: str, data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Hourly UTC epoch seconds and LCA values of all years of one zone."""
    files = [data_dir / folder / str(y) / f"{folder}_{y}_hourly.csv" for y in YEARS]
    trace = load_carbon_traces(files, signal="lca")[zone]
    return np.asarray(trace.start_s), np.asarray(trace.g_per_kwh)


def lag1(values: np.ndarray) -> float:
    """Lag-1 autocorrelation, clipped to [0, 0.98] (0 for a constant series)."""
    if len(values) < 3 or np.std(values) == 0:
        return 0.0
    return float(np.clip(np.corrcoef(values[:-1], values[1:])[0, 1], 0.0, 0.98))


def month_rows(zone: str, month: int, days: np.ndarray) -> list[str]:
    """The 24 rows of one zone-month; ``days`` is (n_days, 24) of intensities."""
    mean = days.mean(axis=0)
    std = days.std(axis=0)
    anomaly = (days - mean) / np.where(std > 0, std, 1.0)
    daily = anomaly.mean(axis=1)
    residual = anomaly - daily[:, None]
    total = float(anomaly.var())
    day_share = float(np.clip(daily.var() / total, 0.0, 1.0)) if total > 0 else 0.0
    day_phi, hour_phi = lag1(daily), lag1(residual.ravel())
    return [
        f"{zone},{month},{hour},{mean[hour]:.2f},{std[hour]:.2f},"
        f"{day_phi:.3f},{day_share:.3f},{hour_phi:.3f}\n"
        for hour in range(24)
    ]


def zone_rows(zone: str, start_s: np.ndarray, values: np.ndarray) -> list[str]:
    """Rows of every month of one zone (whole UTC days only)."""
    dates = start_s.astype("datetime64[s]")
    months = dates.astype("datetime64[M]").astype(int) % 12 + 1
    hours = (start_s // 3600) % 24
    rows = []
    for month in range(1, 13):
        chosen = months == month
        whole = (np.flatnonzero(chosen & (hours == 0))[:, None] + np.arange(24)).ravel()
        whole = whole[whole < len(values)]
        days = values[whole[: len(whole) // 24 * 24]].reshape(-1, 24)
        rows.extend(month_rows(zone, month, days))
    return rows


def main(argv: list[str]) -> None:
    """Build the table from ``argv[0]`` (data dir) into ``argv[1]`` (output CSV)."""
    data_dir = Path(argv[0]) if argv else DATA_DIR
    output = Path(argv[1]) if len(argv) > 1 else OUTPUT
    lines = [HEADER, COLUMNS]
    for folder, zone in ZONES.items():
        lines.extend(zone_rows(zone, *zone_series(folder, zone, data_dir)))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("".join(lines), encoding="utf-8")
    print(f"wrote {len(lines) - 2} rows for {len(ZONES)} zones to {output}")


if __name__ == "__main__":
    main(sys.argv[1:])
