"""Cost of the ledger's hash chain on SQLite, against baselines measured in the same run.

* ``append``: ``SqlLedger.append`` of N priced entries, one transaction each (sequence lookup,
  canonical JSON, SHA-256, insert through the append-only triggers);
* ``plain insert`` (baseline): the same canonical JSON inserted into a plain table with no
  chain and no triggers, one transaction each, same engine and pragmas (WAL, FULL);
* ``verify``: ``SqlLedger.verify()`` over the N entries;
* ``read`` (baseline): ``SqlLedger.entries()``, i.e. reading and validating every entry
  without checking the chain.

The ratios ``append / plain insert`` and ``verify / read`` are what to compare.

Usage: .venv/bin/python benchmarks/ledger.py [--entries 1000]
The last line is JSON with every row.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from plugins.ledgers.sql import SqlLedger
from plugins.stores.database import open_database
from scheduler.accounting import AttemptOutcome, Pricing, account
from scheduler.ledger_chain import payload_of
from scheduler.model import (
    EnergySegment,
    Forecast,
    ForecastProvenance,
    IntensityPoint,
    Job,
    JobSpec,
    JobState,
    LedgerEntry,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _series(zone: str, hours: int) -> Forecast:
    points = tuple(
        IntensityPoint(start=T0 + timedelta(hours=h), g_per_kwh=200.0 + 150.0 * ((h * 7) % 5))
        for h in range(hours)
    )
    provenance = ForecastProvenance(
        provider="bench", zone=zone, generated_at=T0, fetched_at=T0, horizon_s=hours * 3600
    )
    return Forecast(zone=zone, step_s=3600, points=points, provenance=provenance)


def make_entries(count: int) -> list[LedgerEntry]:
    """``count`` realistic entries: 1-3 h runs deferred 0-20 h, priced on a synthetic grid."""
    grid = _series("DE", 48)
    entries = []
    for i in range(count):
        spec = JobSpec(
            name=f"job-{i}",
            entrypoint=("python", "train.py"),
            gpus=1 + i % 8,
            estimated_duration_s=3600,
            deadline=T0 + timedelta(hours=30),
            team=("nlp", "cv", "rl")[i % 3],
            model_version=f"v{i % 4}",
        )
        job = Job(id=f"job-{i}", spec=spec, submitted_at=T0, updated_at=T0)
        start = T0 + timedelta(hours=i % 21)
        segment = EnergySegment(
            start=start, end=start + timedelta(hours=1 + i % 3), energy_mj=(1 + i % 5) * 10**9
        )
        outcome = AttemptOutcome(
            job=job, attempt=1, region="de-1", zone="DE", cluster="de-1", home_zone="DE",
            segments=(segment,), final_state=JobState.SUCCEEDED, gpus=spec.gpus,
            power_cap_w=250.0, energy_source="simulated",
            decision_explanation=f"deferred {i % 21} h to a cleaner window",
        )  # fmt: skip
        entries.append(account(outcome, Pricing(intensity=grid, home_intensity=grid), version="b"))
    return entries


def timed(action: Callable[[], object]) -> float:
    """Seconds ``action`` takes."""
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def run(count: int) -> list[dict[str, object]]:
    """Every row of the table."""
    entries = make_entries(count)
    with tempfile.TemporaryDirectory() as folder:
        engine = open_database(f"sqlite:///{Path(folder) / 'bench.db'}")
        ledger = SqlLedger(engine)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE plain (id INTEGER PRIMARY KEY, payload TEXT)"))
        payloads = [payload_of(e) for e in entries]

        def plain() -> None:
            for payload in payloads:
                with engine.begin() as connection:
                    connection.execute(
                        text("INSERT INTO plain (payload) VALUES (:p)"), {"p": payload}
                    )

        rows = [
            ("plain insert", timed(plain), None),
            ("append", timed(lambda: [ledger.append(e) for e in entries]), "plain insert"),
            ("read", timed(lambda: list(ledger.entries())), None),
            ("verify", timed(ledger.verify), "read"),
        ]
        engine.dispose()
    seconds = {name: s for name, s, _ in rows}
    return [
        {
            "operation": name,
            "entries": count,
            "seconds": round(s, 4),
            "per_entry_ms": round(1000 * s / count, 4),
            "ratio_to_baseline": round(s / seconds[base], 3) if base else None,
            "baseline": base,
        }
        for name, s, base in rows
    ]


def main() -> None:
    """Print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    table = run(parser.parse_args().entries)
    print(f"{'operation':<14}{'entries':>8}{'seconds':>10}{'ms/entry':>10}{'× baseline':>12}")
    for row in table:
        ratio = "" if row["ratio_to_baseline"] is None else f"{row['ratio_to_baseline']:.2f}"
        print(
            f"{row['operation']!s:<14}{row['entries']!s:>8}{row['seconds']!s:>10}"
            f"{row['per_entry_ms']!s:>10}{ratio:>12}"
        )
    print(json.dumps({"benchmark": "ledger", "rows": table}))


if __name__ == "__main__":
    main()
