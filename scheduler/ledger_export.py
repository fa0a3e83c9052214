"""Ledger exports: CSV (one flat row per entry), JSON (full entries) and Parquet.

Parquet needs the optional ``pyarrow`` (``pip install 'carbonshift[parquet]'``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scheduler.errors import ConfigError
from scheduler.model import LedgerEntry

#: Derived columns added to every exported row beside the stored fields.
DERIVED = ("savings_g", "savings_pct", "forecast_error_g_per_kwh")


def flat_row(entry: LedgerEntry) -> dict[str, Any]:
    """One entry as scalar columns: nested values (labels, provenance, segments) as JSON."""
    row: dict[str, Any] = {}
    for key, value in entry.model_dump(mode="json").items():
        row[key] = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value
    for name in DERIVED:
        row[name] = getattr(entry, name)
    return row


def columns() -> list[str]:
    """Column order of CSV and Parquet exports."""
    return [*LedgerEntry.model_fields, *DERIVED]


def export_csv(entries: Sequence[LedgerEntry]) -> str:
    """CSV text with a header row."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(), lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        writer.writerow(flat_row(entry))
    return buffer.getvalue()


def export_json(entries: Sequence[LedgerEntry]) -> str:
    """A JSON array of full entries (hash fields included)."""
    return json.dumps([e.model_dump(mode="json") for e in entries], indent=2) + "\n"


def export_parquet(entries: Sequence[LedgerEntry], path: Path) -> None:
    """Write a Parquet file with the CSV columns.

    Raises:
        ConfigError: pyarrow is not installed (the message says how to install it).
    """
    try:
        import pyarrow as pa  # noqa: PLC0415  (optional dependency, only for this format)
        import pyarrow.parquet as pq  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigError(
            "parquet export needs pyarrow, which is not installed; install it with "
            "pip install 'carbonshift[parquet]' (or pip install pyarrow), or use --format csv"
        ) from exc
    rows = [flat_row(e) for e in entries]
    table = pa.table({name: [row[name] for row in rows] for name in columns()})
    pq.write_table(table, path)
