"""``carbonshift ledger``, ``savings`` and ``report`` against a real SQLite ledger."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from plugins.ledgers.sql import SqlLedger
from plugins.stores.database import default_sqlite_url, open_database
from scheduler.cli.main import app
from tests.scheduler.ledger_factories import entry


@pytest.fixture
def data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A data directory whose SQLite ledger holds three entries of two teams."""
    for name in list(os.environ):
        if name.startswith("CARBONSHIFT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    engine = open_database(default_sqlite_url(tmp_path / "data"))
    ledger = SqlLedger(engine)
    ledger.append(entry(job_id="a", team="nlp", model_version="v1", deferral_h=0))
    ledger.append(entry(job_id="b", team="nlp", model_version="v2", deferral_h=3, energy_kwh=2))
    ledger.append(entry(job_id="c", team="cv", model_version="v1", deferral_h=2))
    engine.dispose()
    return tmp_path / "data"


def _run(data_dir: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args])
    return result.exit_code, result.stdout, result.stderr


def test_verify_and_head(data_dir: Path) -> None:
    """An untouched chain verifies; head prints the newest hash; --head checks it."""
    code, out, _ = _run(data_dir, "ledger", "head")
    head = out.strip()
    assert code == 0
    assert len(head) == 64
    code, out, _ = _run(data_dir, "ledger", "verify", "--head", head)
    assert code == 0
    assert out.strip() == f"ledger verified: 3 entries, head {head}"


def test_verify_names_tampered_entry(data_dir: Path) -> None:
    """With the trigger dropped and entry 2 edited, verify exits 1 naming entry 2."""
    engine = open_database(default_sqlite_url(data_dir))
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER ledger_entries_no_update"))
        connection.execute(
            text("UPDATE ledger_entries SET payload = replace(payload, '\"nlp\"', '\"ops\"') "
                 "WHERE sequence = 2")
        )  # fmt: skip
    engine.dispose()
    code, _, err = _run(data_dir, "ledger", "verify")
    assert code == 1
    assert "entry 2 (job b attempt 1) was changed" in " ".join(err.split())


def test_list_json_and_exports(data_dir: Path, tmp_path: Path) -> None:
    """The list, CSV, JSON and Parquet exports carry every entry with its hash."""
    code, out, _ = _run(data_dir, "ledger", "--json")
    listed = json.loads(out)
    assert code == 0
    assert [e["job_id"] for e in listed] == ["a", "b", "c"]
    code, out, _ = _run(data_dir, "ledger", "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["entry_hash"] for r in rows] == [e["entry_hash"] for e in listed]
    code, out, _ = _run(data_dir, "ledger", "export", "--format", "json")
    assert json.loads(out) == listed
    pq = pytest.importorskip("pyarrow.parquet")
    target = tmp_path / "ledger.parquet"
    code, _, _ = _run(data_dir, "ledger", "export", "--format", "parquet", "-o", str(target))
    assert code == 0
    assert pq.read_table(target).column("job_id").to_pylist() == ["a", "b", "c"]


def test_savings_json_matches_ledger_rows(data_dir: Path) -> None:
    """`savings --by team --json` adds up the listed entries per team."""
    _, out, _ = _run(data_dir, "ledger", "--json")
    listed = json.loads(out)
    code, out, _ = _run(data_dir, "savings", "--by", "team", "--json")
    report = {row["key"]: row for row in json.loads(out)["rows"]}
    assert code == 0
    assert sorted(report) == ["cv", "nlp"]
    nlp = [e for e in listed if e["team"] == "nlp"]
    saved_kg = sum(e["counterfactual_emissions_g"] - e["emissions_g"] for e in nlp) / 1000
    assert report["nlp"]["jobs"] == 2
    assert report["nlp"]["saved_kg"] == pytest.approx(saved_kg)
    assert report["nlp"]["energy_kwh"] == pytest.approx(3.0)


def test_savings_bad_since_exits_2(data_dir: Path) -> None:
    """An unreadable --since exits 2 showing accepted forms."""
    code, _, err = _run(data_dir, "savings", "--since", "yesterday-ish")
    assert code == 2
    assert "2026-11-01" in err


def test_html_report_is_self_contained(data_dir: Path, tmp_path: Path) -> None:
    """The report has the charts inline, the totals and the verification line."""
    target = tmp_path / "report.html"
    code, _, _ = _run(data_dir, "report", "--html", str(target))
    page = target.read_text(encoding="utf-8")
    assert code == 0
    assert page.count("<svg") >= 4
    assert "<script" not in page
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert "ledger verified: 3 entries" in page
    assert 'data-category="v2"' in page


def test_parquet_without_pyarrow_says_how_to_install_it(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without pyarrow the parquet export exits 2 naming the extra to install."""
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    target = tmp_path / "x.parquet"
    code, _, err = _run(data_dir, "ledger", "export", "--format", "parquet", "-o", str(target))
    assert code == 2
    assert "pip install 'carbonshift[parquet]'" in " ".join(err.split())
    assert not target.exists()
