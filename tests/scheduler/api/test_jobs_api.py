"""``/v1/jobs`` over every store backend: submit, idempotency, tenants, cancel, caps, paging."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from plugins.clusters.scripted import ScriptedCluster
from scheduler.api.collaborators import ClusterJobControl
from scheduler.clock import FakeClock
from scheduler.model import ApiRole, AttemptRecord, AttemptState, JobState
from tests.scheduler.api.conftest import AppFactory, ClientFor, Stores, bearer, job_body


def test_submit_answers_202_with_the_stored_job_and_its_first_decision(
    stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """A submission is stored as PENDING for the token's team and answered with a decision."""
    client = client_for(make_app(stores))
    headers = bearer(stores, "nlp", ApiRole.SUBMITTER)
    answer = client.post("/v1/jobs", json=job_body(), headers=headers)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["state"] == "PENDING"
    assert job["spec"]["team"] == "nlp"
    assert job["decision"]["kind"] in {"start", "wait", "reject"}
    assert job["explanation"] == job["decision"]["explanation"]
    assert answer.headers["Location"] == f"/v1/jobs/{job['id']}"
    stored = stores.jobs.get(job["id"])
    assert stored.spec.entrypoint == ("python", "train.py", "--lr", "3e-4")
    assert stored.spec.power_cap_w == 250


def test_same_idempotency_key_and_body_gives_the_same_job(
    stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """Repeating a submission with its Idempotency-Key returns the first job; one is stored."""
    client = client_for(make_app(stores))
    headers = {**bearer(stores, "nlp", ApiRole.SUBMITTER), "Idempotency-Key": "run-42"}
    first = client.post("/v1/jobs", json=job_body(), headers=headers)
    again = client.post("/v1/jobs", json=job_body(), headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert len(stores.jobs.list()) == 1


def test_same_idempotency_key_with_another_body_is_409(
    stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """Reusing a key for a different body is a conflict naming the key; nothing new is stored."""
    client = client_for(make_app(stores))
    headers = {**bearer(stores, "nlp", ApiRole.SUBMITTER), "Idempotency-Key": "run-42"}
    client.post("/v1/jobs", json=job_body(), headers=headers)
    answer = client.post("/v1/jobs", json=job_body(gpus=8), headers=headers)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "idempotency_conflict"
    assert "run-42" in answer.json()["error"]["message"]
    assert len(stores.jobs.list()) == 1


def test_concurrent_retries_with_one_key_store_one_job(
    stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """Sixteen simultaneous retries of one submission all get the same job id."""
    client = client_for(make_app(stores))
    headers = {**bearer(stores, "nlp", ApiRole.SUBMITTER), "Idempotency-Key": "retry-me"}
    barrier = threading.Barrier(16)

    def submit(_: int) -> tuple[int, str]:
        barrier.wait()
        answer = client.post("/v1/jobs", json=job_body(), headers=headers)
        return answer.status_code, answer.json().get("id", answer.text)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(submit, range(16)))
    assert {status for status, _ in results} == {202}
    assert len({job_id for _, job_id in results}) == 1
    assert len(stores.jobs.list()) == 1


def test_teams_never_see_or_change_each_others_jobs(
    stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """Team B gets 404 reading, cancelling or re-capping team A's job, and lists none of it."""
    client = client_for(make_app(stores))
    team_a = bearer(stores, "a", ApiRole.SUBMITTER)
    team_b = bearer(stores, "b", ApiRole.SUBMITTER)
    job_id = client.post("/v1/jobs", json=job_body(), headers=team_a).json()["id"]
    assert client.get(f"/v1/jobs/{job_id}", headers=team_b).status_code == 404
    assert client.delete(f"/v1/jobs/{job_id}", headers=team_b).status_code == 404
    recap = client.patch(f"/v1/jobs/{job_id}/caps", json={"power_cap_w": 100}, headers=team_b)
    assert recap.status_code == 404
    assert client.get("/v1/jobs", headers=team_b).json()["items"] == []
    assert client.get("/v1/jobs?team=a", headers=team_b).status_code == 403
    unchanged = stores.jobs.get(job_id)
    assert unchanged.state is JobState.PENDING
    assert unchanged.spec.power_cap_w == 250
    assert client.get(f"/v1/jobs/{job_id}", headers=team_a).status_code == 200


def test_a_team_cannot_submit_for_another_team(
    stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """A submitter naming another team is refused (403 naming ``team``); an admin may."""
    client = client_for(make_app(stores))
    answer = client.post(
        "/v1/jobs", json=job_body(team="b"), headers=bearer(stores, "a", ApiRole.SUBMITTER)
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["field"] == "team"
    admin = bearer(stores, "ops", ApiRole.ADMIN)
    assert client.post("/v1/jobs", json=job_body(team="b"), headers=admin).status_code == 202


def test_roles(memory_stores: Stores, make_app: AppFactory, client_for: ClientFor) -> None:
    """Viewers read only; admins see every team; unknown and revoked tokens are 401."""
    stores = memory_stores
    client = client_for(make_app(stores))
    submitter = bearer(stores, "a", ApiRole.SUBMITTER)
    job_id = client.post("/v1/jobs", json=job_body(), headers=submitter).json()["id"]
    viewer = bearer(stores, "a", ApiRole.VIEWER)
    assert client.get(f"/v1/jobs/{job_id}", headers=viewer).status_code == 200
    assert client.post("/v1/jobs", json=job_body(), headers=viewer).status_code == 403
    assert client.delete(f"/v1/jobs/{job_id}", headers=viewer).status_code == 403
    admin = bearer(stores, "ops", ApiRole.ADMIN)
    assert [j["id"] for j in client.get("/v1/jobs", headers=admin).json()["items"]] == [job_id]
    assert client.get("/v1/jobs").status_code == 401
    assert client.get("/v1/jobs", headers={"Authorization": "Bearer cs_nope"}).status_code == 401
    token_id = next(t.id for t in stores.tokens.tokens() if t.role is ApiRole.SUBMITTER)
    assert client.delete(f"/v1/tokens/{token_id}", headers=admin).status_code == 200
    revoked = client.get("/v1/jobs", headers=submitter)
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["error"]["message"]


def test_without_tokens_loopback_callers_are_anonymous_admins_until_a_token_exists(
    memory_stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """Open access lasts only while no token exists; then every request needs one."""
    client = client_for(make_app(memory_stores))
    assert client.post("/v1/jobs", json=job_body()).status_code == 202
    bearer(memory_stores, "a", ApiRole.SUBMITTER)
    assert client.get("/v1/jobs").status_code == 401


def test_without_tokens_a_public_listener_still_needs_a_token(
    memory_stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """Listening beyond loopback never allows anonymous access."""
    client = client_for(make_app(memory_stores, api={"host": "0.0.0.0"}))  # noqa: S104
    answer = client.get("/v1/jobs")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_cancel_pending_and_running_jobs(
    stores: Stores, make_app: AppFactory, client_for: ClientFor, clock: FakeClock
) -> None:
    """Cancelling a pending job is a state change; a running one is also stopped on Ray."""
    cluster = ScriptedCluster(region="de-1", clock=clock)
    control = ClusterJobControl(stores.jobs, {"de-1": cluster})
    client = client_for(make_app(stores, control=control))
    headers = bearer(stores, "a", ApiRole.SUBMITTER)
    pending = client.post("/v1/jobs", json=job_body(), headers=headers).json()["id"]
    running = client.post("/v1/jobs", json=job_body(name="r"), headers=headers).json()["id"]
    job = stores.jobs.get(running)
    intent = AttemptRecord(
        job_id=running,
        attempt=1,
        region="de-1",
        submission_id=f"{running}-1",
        intent_at=clock.now(),
    )
    stores.jobs.transition(
        running,
        job.state,
        job.transition(JobState.DISPATCHED, at=clock.now(), attempt=1),
        attempt=intent,
    )
    cluster.submit(stores.jobs.get(running), 1)
    clock.advance(timedelta(seconds=5))

    assert client.delete(f"/v1/jobs/{pending}", headers=headers).json()["state"] == "CANCELLED"
    assert client.delete(f"/v1/jobs/{pending}", headers=headers).status_code == 200
    answer = client.delete(f"/v1/jobs/{running}", headers=headers)
    assert answer.json()["state"] == "CANCELLED"
    status = cluster.status(f"{running}-1")
    assert status is not None
    assert status.state is AttemptState.STOPPED
    assert stores.jobs.get(running).state is JobState.CANCELLED


def test_caps_change_while_pending_and_persist(
    stores: Stores, make_app: AppFactory, client_for: ClientFor, request: pytest.FixtureRequest
) -> None:
    """PATCH caps stores the new caps; null removes one; a finished job's caps are 409."""
    client = client_for(make_app(stores))
    headers = bearer(stores, "a", ApiRole.SUBMITTER)
    job_id = client.post("/v1/jobs", json=job_body(), headers=headers).json()["id"]
    answer = client.patch(
        f"/v1/jobs/{job_id}/caps",
        json={"power_cap_w": 200, "energy_cap_kwh": None},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    stored = stores.jobs.get(job_id).spec
    assert (stored.power_cap_w, stored.energy_cap_kwh) == (200, None)
    assert client.get(f"/v1/jobs/{job_id}", headers=headers).json()["spec"]["power_cap_w"] == 200
    bad = client.patch(f"/v1/jobs/{job_id}/caps", json={"power_cap_w": 5}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "power_cap_w"
    client.delete(f"/v1/jobs/{job_id}", headers=headers)
    late = client.patch(f"/v1/jobs/{job_id}/caps", json={"power_cap_w": 300}, headers=headers)
    assert late.status_code == 409


def test_list_filters_and_pages(
    stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """Filters by state, project and model version; pages follow next_offset to the end."""
    client = client_for(make_app(stores))
    headers = bearer(stores, "a", ApiRole.SUBMITTER)
    ids = [
        client.post(
            "/v1/jobs", json=job_body(name=f"j{i}", model_version=f"v{i % 2}"), headers=headers
        ).json()["id"]
        for i in range(5)
    ]
    client.delete(f"/v1/jobs/{ids[0]}", headers=headers)
    v1 = client.get("/v1/jobs?model_version=v1", headers=headers).json()["items"]
    assert [job["id"] for job in v1] == [ids[1], ids[3]]
    cancelled = client.get("/v1/jobs?state=CANCELLED", headers=headers).json()["items"]
    assert [job["id"] for job in cancelled] == [ids[0]]
    assert client.get("/v1/jobs?project=other", headers=headers).json()["items"] == []
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = client.get(f"/v1/jobs?limit=2&offset={offset}", headers=headers).json()
        seen += [job["id"] for job in page["items"]]
        offset = page["next_offset"]
    assert seen == ids


def test_after_a_restart_a_dispatched_job_shows_its_dispatch_decision(
    stores: Stores, make_app: AppFactory, client_for: ClientFor, clock: FakeClock
) -> None:
    """A new API process, with no decision in memory, reports the attempt's stored decision."""
    first = client_for(make_app(stores))
    headers = bearer(stores, "a", ApiRole.SUBMITTER)
    job_id = first.post("/v1/jobs", json=job_body(), headers=headers).json()["id"]
    job = stores.jobs.get(job_id)
    intent = AttemptRecord(
        job_id=job_id,
        attempt=1,
        region="fr-1",
        submission_id=f"{job_id}-1",
        intent_at=clock.now(),
        explanation="start now in fr-1; expected −30 % CO2e",
    )
    stores.jobs.transition(
        job_id,
        job.state,
        job.transition(JobState.DISPATCHED, at=clock.now(), attempt=1),
        attempt=intent,
    )
    restarted = client_for(make_app(stores))
    view = restarted.get(f"/v1/jobs/{job_id}", headers=headers).json()
    assert view["explanation"] == "start now in fr-1; expected −30 % CO2e"
    assert view["planned_region"] == "fr-1"
    assert [a["submission_id"] for a in view["attempts"]] == [f"{job_id}-1"]
