"""Savings reports equal a recomputation from the raw ledger rows."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from plugins.ledgers.sql import SqlLedger
from plugins.stores.database import open_database
from scheduler.accounting import correct
from scheduler.savings import GroupBy, summarize, total
from tests.scheduler.ledger_factories import T0, entry, series


def _seed(ledger: SqlLedger) -> None:
    ledger.append(entry(job_id="a", team="nlp", model_version="v1", deferral_h=0))
    ledger.append(entry(job_id="b", team="nlp", model_version="v2", deferral_h=3, energy_kwh=2))
    ledger.append(entry(job_id="c", team="cv", model_version="v1", deferral_h=5, energy_kwh=4))


def test_savings_by_team_equal_recomputation_from_rows(tmp_path: Path) -> None:
    """Per-team kg, kWh, jobs and deferral recomputed from the stored JSON match the report."""
    engine = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ledger = SqlLedger(engine)
    _seed(ledger)
    with engine.connect() as connection:
        payloads = [
            json.loads(p)
            for p in connection.execute(text("SELECT payload FROM ledger_entries")).scalars()
        ]
    engine.dispose()
    expected: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in payloads:
        team = expected[row["team"]]
        team["jobs"] += 1
        team["kwh"] += row["energy_mj"] / 3.6e9
        team["kg"] += row["emissions_g"] / 1000
        team["cf_kg"] += row["counterfactual_emissions_g"] / 1000
    report = {r.key: r for r in summarize(ledger.entries(), by="team")}
    assert sorted(report) == sorted(expected)
    for team, sums in expected.items():
        assert report[team].jobs == sums["jobs"]
        assert report[team].energy_kwh == pytest.approx(sums["kwh"])
        assert report[team].emissions_kg == pytest.approx(sums["kg"])
        assert report[team].saved_kg == pytest.approx(sums["cf_kg"] - sums["kg"])


def test_known_grid_gives_known_savings() -> None:
    """On the factory grid (400, 300, 200, 100 …) 1 kWh deferred 3 h saves 300 g (75 %)."""
    rows = summarize([entry(deferral_h=3)], by="model_version")
    assert [(r.key, r.jobs) for r in rows] == [("v1", 1)]
    assert rows[0].saved_kg == pytest.approx(0.3)
    assert rows[0].saved_pct == pytest.approx(75.0)
    assert rows[0].mean_deferral_h == pytest.approx(3.0)


def test_window_month_and_deadline_misses() -> None:
    """``since``/``until`` filter on end time; a run ending after the deadline is a miss."""
    late = entry(job_id="late", deferral_h=2).model_copy(
        update={"deadline": T0 + timedelta(hours=1)}
    )
    on_time = entry(job_id="ok", deferral_h=0)
    rows = summarize([late, on_time], by="month")
    assert [(r.key, r.jobs, r.deadline_misses) for r in rows] == [("2026-11", 2, 1)]
    only_late = summarize([late, on_time], by="team", since=T0 + timedelta(hours=2))
    assert [r.jobs for r in only_late] == [1]
    assert summarize([late, on_time], by="team", until=T0) == []


def test_corrections_replace_the_original_in_reports() -> None:
    """A corrected entry counts once, with the corrected emissions."""
    original = entry(deferral_h=0).model_copy(update={"sequence": 1, "intensity_basis": "forecast"})
    flat = series("DE", [50] * 8)
    fix = correct(original, intensity=flat, home_intensity=flat).model_copy(update={"sequence": 2})
    (row,) = summarize([original, fix], by="team")
    assert (row.jobs, row.emissions_kg, row.saved_kg) == (1, pytest.approx(0.05), pytest.approx(0))
    assert total([row]).emissions_kg == pytest.approx(0.05)


def test_unknown_grouping_is_rejected() -> None:
    """Grouping by an unknown key names the choices."""
    with pytest.raises(ValueError, match="choose one of"):
        summarize([], by="colour")  # type: ignore[arg-type]


@given(
    jobs=st.lists(
        st.tuples(
            st.sampled_from(["nlp", "cv", "rl"]),
            st.sampled_from(["v1", "v2"]),
            st.integers(0, 5),
            st.floats(0.1, 20),
        ),
        min_size=1,
        max_size=12,
    ),
    by=st.sampled_from(["team", "model_version", "region", "month", "project"]),
)
@settings(max_examples=40, deadline=None)
def test_every_grouping_adds_up_to_the_same_totals(
    jobs: list[tuple[str, str, int, float]], by: GroupBy
) -> None:
    """Whatever the grouping, the groups' energy, emissions and savings add up to the sums
    over all entries, and every job is counted once."""
    entries = [
        entry(job_id=f"j{i}", team=t, model_version=v, deferral_h=d, energy_kwh=kwh)
        for i, (t, v, d, kwh) in enumerate(jobs)
    ]
    overall = total(summarize(entries, by=by))
    assert overall.jobs == len(entries)
    assert overall.energy_kwh == pytest.approx(sum(e.energy_mj for e in entries) / 3.6e9)
    assert overall.emissions_kg == pytest.approx(sum(e.emissions_g for e in entries) / 1000)
    assert overall.saved_kg == pytest.approx(sum(e.savings_g for e in entries) / 1000)
