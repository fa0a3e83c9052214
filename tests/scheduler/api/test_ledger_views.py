"""Realised outcomes from the ledger: per job, savings reports, ledger pages and metrics."""

from __future__ import annotations

from plugins.ledgers.memory import MemoryLedger
from scheduler.model import ApiRole
from tests.scheduler.api.conftest import AppFactory, ClientFor, Stores, bearer, job_body
from tests.scheduler.ledger_factories import entry


def test_finished_jobs_show_realised_energy_emissions_and_savings(
    memory_stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """A job with a ledger entry reports what the entry realised; others report none."""
    ledger = MemoryLedger()
    client = client_for(make_app(memory_stores, ledger=ledger))
    headers = bearer(memory_stores, "nlp", ApiRole.SUBMITTER)
    job_id = client.post("/v1/jobs", json=job_body(), headers=headers).json()["id"]
    assert client.get(f"/v1/jobs/{job_id}", headers=headers).json()["realised"] is None
    accounted = entry(job_id=job_id, team="nlp", energy_kwh=1.0, deferral_h=2)
    ledger.append(accounted)
    realised = client.get(f"/v1/jobs/{job_id}", headers=headers).json()["realised"]
    assert realised["energy_kwh"] == 1.0
    assert realised["emissions_g"] == accounted.emissions_g
    assert realised["savings_g"] == accounted.savings_g
    assert realised["savings_g"] > 0


def test_savings_ledger_and_metrics_respect_teams(
    memory_stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """A team's savings and ledger hold only its entries; admins and metrics see all."""
    ledger = MemoryLedger()
    first = entry(job_id="job-a", team="nlp", deferral_h=2)
    second = entry(job_id="job-b", team="vision", deferral_h=3)
    ledger.append(first)
    ledger.append(second)
    client = client_for(make_app(memory_stores, ledger=ledger))
    nlp = bearer(memory_stores, "nlp", ApiRole.VIEWER)
    admin = bearer(memory_stores, "ops", ApiRole.ADMIN)

    report = client.get("/v1/savings?group_by=team", headers=nlp).json()
    assert [row["key"] for row in report["rows"]] == ["nlp"]
    everyone = client.get("/v1/savings?group_by=team", headers=admin).json()
    assert [row["key"] for row in everyone["rows"]] == ["nlp", "vision"]
    assert everyone["total"]["saved_kg"] == (first.savings_g + second.savings_g) / 1000
    assert client.get("/v1/savings?group_by=colour", headers=admin).status_code == 422

    page = client.get("/v1/ledger?limit=1", headers=admin).json()
    assert [item["job_id"] for item in page["items"]] == ["job-a"]
    assert page["next_offset"] == 1
    assert [i["job_id"] for i in client.get("/v1/ledger", headers=nlp).json()["items"]] == ["job-a"]

    text = client.get("/metrics").text
    assert f"carbonshift_deferral_seconds_total {5 * 3600:.1f}" in text
    realised = first.savings_g + second.savings_g
    assert f'carbonshift_co2e_saved_grams_total{{basis="realised"}} {realised:.1f}' in text
