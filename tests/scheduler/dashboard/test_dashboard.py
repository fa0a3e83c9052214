"""The dashboard in headless Chromium against a live server seeded with jobs and a ledger.

Skips on a machine without Debian's ``chromium`` or the ``playwright`` package; never in CI.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from forecasts.static import StaticProvider
from plugins.ledgers.memory import MemoryLedger
from plugins.stores.memory import InMemoryJobStore
from plugins.stores.memory_tokens import InMemoryTokenStore
from scheduler.api.app import create_app
from scheduler.api.collaborators import RecordedDecisions, queued_decision
from scheduler.api.server import ApiServer
from scheduler.clock import SystemClock
from scheduler.dashboard import dashboard_router
from scheduler.model import JobSpec, JobState, LedgerEntry, Wait
from scheduler.settings import RegionConfig, Settings
from tests.conftest import require
from tests.scheduler.ledger_factories import entry

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXPLANATION = "deferred 5 h to a cleaner window in FR; expected −41 % CO2e"


@dataclass
class Seeded:
    """The live server and what it was seeded with."""

    url: str
    active_ids: set[str]
    waiting_id: str
    entries: list[LedgerEntry]


def _spec(name: str, team: str, zones: tuple[str, ...]) -> JobSpec:
    clock = SystemClock()
    return JobSpec(
        name=name,
        entrypoint=("python", "train.py"),
        gpus=2,
        estimated_duration_s=3 * 3600,
        deadline=clock.now() + timedelta(hours=30),
        zones=zones,
        team=team,
    )


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    """A server with 4 queued/running jobs, 1 finished job and 3 ledger entries."""
    clock = SystemClock()
    store, ledger = InMemoryJobStore(), MemoryLedger()
    decisions = RecordedDecisions(queued_decision(clock, "DE"))
    active = set()
    for i, (team, zones) in enumerate([("nlp", ("DE", "FR")), ("nlp", ()), ("cv", ("FR",))]):
        job = store.submit(_spec(f"train-{i}", team, zones), now=clock.now())
        until = clock.now() + timedelta(hours=2 + 3 * i)
        decisions.record(Wait(job_id=job.id, until=until, region="fr-1", explanation=EXPLANATION))
        active.add(job.id)
    running = store.submit(_spec("running", "cv", ("DE",)), now=clock.now())
    for state in (JobState.DISPATCHED, JobState.RUNNING):
        current = store.get(running.id)
        store.transition(running.id, current.state, current.transition(state, at=clock.now()))
    active.add(running.id)
    done = store.submit(_spec("done", "cv", ()), now=clock.now())
    for state in (JobState.DISPATCHED, JobState.SUCCEEDED):
        current = store.get(done.id)
        store.transition(done.id, current.state, current.transition(state, at=clock.now()))
    entries = [
        entry(job_id="a", team="nlp", model_version="v1", deferral_h=3),
        entry(job_id="b", team="nlp", model_version="v2", deferral_h=1, energy_kwh=2),
        entry(job_id="c", team="cv", model_version="v1", deferral_h=0, energy_kwh=4),
    ]
    for e in entries:
        ledger.append(e)
    settings = Settings(
        data_dir=tmp_path,
        regions=[RegionConfig(name="de-1", zone="DE"), RegionConfig(name="fr-1", zone="FR")],
    )
    app = create_app(
        store=store,
        tokens=InMemoryTokenStore(),
        clock=clock,
        settings=settings,
        decisions=decisions,
        forecasts=StaticProvider({"DE": 320.0, "FR": 55.0}, clock=clock),
        ledger=ledger,
        open_access=True,
        extra_routers=[dashboard_router(settings.known_zones())],
    )
    with ApiServer(app) as server:
        yield Seeded(url=server.url, active_ids=active, waiting_id=job.id, entries=entries)


def test_dashboard_renders_jobs_forecasts_and_savings(seeded: Seeded, tmp_path: Path) -> None:
    """Every queued/running job is on the timeline with its explanation on hover; the savings
    charts and tables carry totals equal to the seeded ledger's."""
    require(CHROMIUM.exists() or shutil.which("chromium") is not None, "chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415  (optional dev tool)
    except ImportError:
        require(False, "playwright is not installed (pip install playwright)")
        return
    saved_kg = sum(e.counterfactual_emissions_g - e.emissions_g for e in seeded.entries) / 1000
    nlp_kg = sum(e.emissions_g for e in seeded.entries if e.team == "nlp") / 1000
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1250, "height": 1100})
        page.goto(seeded.url + "/")
        page.wait_for_selector("body[data-ready=true]", timeout=20_000)
        job_ids = page.eval_on_selector_all(
            "#timeline-svg rect.job", "nodes => nodes.map(n => n.dataset.jobId)"
        )
        zones = page.eval_on_selector_all(
            "path.forecast", "nodes => nodes.map(n => n.dataset.zone)"
        )
        team_saved = float(page.get_attribute("#team-chart", "data-total-saved-kg") or "nan")
        model_saved = float(page.get_attribute("#model-chart", "data-total-saved-kg") or "nan")
        total_row = page.inner_text("#team-table tr.total")
        nlp_bar = page.get_attribute(
            '#team-chart rect.bar[data-key="nlp"][data-series="emissions"]', "data-value"
        )
        page.hover(f'rect.job[data-job-id="{seeded.waiting_id}"]')
        tooltip = page.inner_text("#tooltip")
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        browser.close()
    assert sorted(job_ids) == sorted(seeded.active_ids)
    assert zones == ["DE", "FR"]
    assert team_saved == pytest.approx(saved_kg)
    assert model_saved == pytest.approx(saved_kg)
    assert f"{saved_kg:.3f}" in total_row.split()
    assert float(nlp_bar or "nan") == pytest.approx(nlp_kg)
    assert "train-2 (cv) · PENDING in fr-1" in tooltip
    assert EXPLANATION in tooltip
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000


def test_dashboard_page_is_served_without_a_build_step(seeded: Seeded) -> None:
    """``/`` is the HTML page with the configured zones; ``/dashboard.js`` is plain JS."""
    import requests  # noqa: PLC0415

    page = requests.get(seeded.url + "/", timeout=10)
    script = requests.get(seeded.url + "/dashboard.js", timeout=10)
    assert page.status_code == 200
    assert 'content="DE,FR"' in page.text
    assert script.headers["content-type"].startswith("text/javascript")
    assert "fetch(" in script.text
