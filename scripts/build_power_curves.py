"""Derive the simulated GPUs' power curves from the Zeus (NSDI '23) power-limit traces.

Reads ``summary_power_{v100,a40,rtx6000,p100}.csv`` (columns dataset, network, batch_size,
optimizer, power_limit, time_per_epoch, average_power) and writes one curve per GPU type and
workload (dataset/network) to ``plugins/power/data/power_curves.csv``. For each workload it
keeps the configuration (batch size, optimizer) measured at the most power limits, ties broken
by the fastest epoch at the highest limit, so every curve spans the GPU's whole limit range.

Source: Zeus, "Zeus: Understanding and Optimizing GPU Energy Consumption of DNN Training"
(You, Chung, Chowdhury, NSDI '23), https://github.com/ml-energy/zeus, Apache-2.0.

Usage: python scripts/build_power_curves.py [TRACE_DIR] [OUTPUT_CSV]
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TRACE_DIR = REPO.parent / "shared/data/zeus/examples/research_reproducibility/zeus_nsdi23/trace"
OUTPUT = REPO / "plugins/power/data/power_curves.csv"
GPU_TYPES = {"v100": "V100", "a40": "A40", "rtx6000": "RTX6000", "p100": "P100"}
HEADER = (
    "# Derived from the Zeus NSDI '23 power-limit traces (https://github.com/ml-energy/zeus,\n"
    "# examples/research_reproducibility/zeus_nsdi23/trace), Apache-2.0, by\n"
    "# scripts/build_power_curves.py: one configuration per GPU type and workload.\n"
)

Row = tuple[int, float, float]  # power limit W, seconds per epoch, average power W


def read_trace(path: Path) -> dict[tuple[str, str, str, str], list[Row]]:
    """Rows of one trace grouped by (dataset, network, batch size, optimizer)."""
    groups: dict[tuple[str, str, str, str], list[Row]] = defaultdict(list)
    with path.open(newline="") as handle:
        for rec in csv.DictReader(handle):
            key = (rec["dataset"], rec["network"], rec["batch_size"], rec["optimizer"])
            row = (
                int(rec["power_limit"]),
                float(rec["time_per_epoch"]),
                float(rec["average_power"]),
            )
            groups[key].append(row)
    return groups


def pick(groups: dict[tuple[str, str, str, str], list[Row]]) -> dict[tuple[str, ...], list[Row]]:
    """Per workload, the configuration with the most limits (then the fastest at the top)."""
    best: dict[tuple[str, str], tuple[tuple[str, ...], list[Row]]] = {}
    for key, rows in groups.items():
        rows.sort()
        rank = (len(rows), -rows[-1][1])
        current = best.get(key[:2])
        if current is None or rank > (len(current[1]), -current[1][-1][1]):
            best[key[:2]] = (key, rows)
    return dict(best.values())


def main(argv: list[str]) -> int:
    """Write the derived table; print how many curves and rows."""
    trace_dir = Path(argv[1]) if len(argv) > 1 else TRACE_DIR
    output = Path(argv[2]) if len(argv) > 2 else OUTPUT
    lines = ["gpu,workload,batch_size,optimizer,power_limit_w,time_per_epoch_s,average_power_w"]
    curves = 0
    for stem, gpu in GPU_TYPES.items():
        for key, rows in sorted(pick(read_trace(trace_dir / f"summary_power_{stem}.csv")).items()):
            curves += 1
            workload = f"{key[0]}/{key[1]}"
            lines += [f"{gpu},{workload},{key[2]},{key[3]},{w},{t:.4f},{p:.3f}" for w, t, p in rows]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {curves} curves, {len(lines) - 1} rows to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
