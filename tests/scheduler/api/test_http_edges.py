"""Validation, limits, errors, metrics and the read-only endpoints of the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from forecasts.static import StaticProvider
from scheduler.api.app import create_app
from scheduler.api.metrics import ServiceMetrics
from scheduler.clock import FakeClock
from scheduler.model import ApiRole
from tests.scheduler.api.conftest import NOW, AppFactory, ClientFor, Stores, bearer, job_body


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"entrypoint": []}, "entrypoint"),
        ({"entrypoint": ["  "]}, "entrypoint"),
        ({"gpus": 0}, "gpus"),
        ({"gpus": "four"}, "gpus"),
        ({"estimated_duration_s": -5}, "estimated_duration_s"),
        ({"power_cap_w": 5000}, "power_cap_w"),
        ({"energy_cap_kwh": 0}, "energy_cap_kwh"),
        ({"zones": ["DE", "DE"]}, "zones"),
        ({"zones": ["XX"]}, "zones"),
        ({"deadline": "2026-11-28T08:00:00"}, "deadline"),
        ({"earliest_start": "2026-11-27T08:00:00"}, "earliest_start"),
        ({"deadline": (NOW + timedelta(hours=1)).isoformat()}, "body"),
        ({"team": ""}, "team"),
        ({"labels": {"a": 1}}, "labels.a"),
        ({"colour": "green"}, "colour"),
        ({"deadline": None}, "deadline"),
    ],
)
def test_every_spec_validation_error_is_a_422_naming_the_field(
    memory_stores: Stores,
    make_app: AppFactory,
    client_for: ClientFor,
    changes: dict[str, Any],
    field: str,
) -> None:
    """Each JobSpec rule of the foundation surfaces as 422 whose error names the field."""
    client = client_for(make_app(memory_stores))
    answer = client.post("/v1/jobs", json=job_body(**changes))
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert error["field"] == field
    assert error["message"].startswith(field)
    assert memory_stores.jobs.list() == []


def test_missing_required_fields_are_all_named(
    memory_stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """An empty object names every required field in one message."""
    client = client_for(make_app(memory_stores))
    message = client.post("/v1/jobs", json={}).json()["error"]["message"]
    for field in ("name", "entrypoint", "gpus", "estimated_duration_s", "deadline"):
        assert f"{field}: Field required" in message


@pytest.mark.parametrize("body", [b"", b"{not json", b"[1, 2]", b'"text"'])
def test_bodies_that_are_not_a_json_object_are_422(
    memory_stores: Stores, make_app: AppFactory, client_for: ClientFor, body: bytes
) -> None:
    """Empty, malformed or non-object bodies are 422 naming ``body``."""
    client = client_for(make_app(memory_stores))
    answer = client.post("/v1/jobs", data=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "body"


def test_too_large_bodies_are_413(
    memory_stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """A body over the limit is refused, declared or chunked, and nothing is stored."""
    client = client_for(make_app(memory_stores, api={"max_body_bytes": 2048}))
    big = job_body(labels={"blob": "x" * 4096})
    declared = client.post("/v1/jobs", json=big)
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "body_too_large"
    chunks = iter([b'{"name": "', b"x" * 3000, b'"}'])
    chunked = client.post("/v1/jobs", data=chunks, headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413
    assert memory_stores.jobs.list() == []


def test_submissions_per_minute_per_token_are_limited(
    memory_stores: Stores, make_app: AppFactory, client_for: ClientFor, clock: FakeClock
) -> None:
    """Past the rate a token gets 429 with Retry-After; other tokens and later minutes pass."""
    client = client_for(make_app(memory_stores, api={"jobs_per_minute": 3}))
    first = bearer(memory_stores, "a", ApiRole.SUBMITTER)
    other = bearer(memory_stores, "a", ApiRole.SUBMITTER)
    codes = [client.post("/v1/jobs", json=job_body(), headers=first).status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429]
    refused = client.post("/v1/jobs", json=job_body(), headers=first)
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "20"
    assert client.post("/v1/jobs", json=job_body(), headers=other).status_code == 202
    clock.advance(timedelta(seconds=20))
    assert client.post("/v1/jobs", json=job_body(), headers=first).status_code == 202
    assert len(memory_stores.jobs.list()) == 5


def test_unknown_routes_and_methods_answer_json(
    memory_stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """404 and 405 from the router are JSON error bodies too."""
    client = client_for(make_app(memory_stores))
    assert client.get("/v2/nothing").json()["error"]["code"] == "not_found"
    assert client.request("PUT", "/v1/jobs").json()["error"]["code"] == "method_not_allowed"
    assert client.get("/v1/jobs/job-unknown").json()["error"]["code"] == "not_found"


def test_health_readiness_and_metrics(
    memory_stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """/healthz and /readyz answer; /metrics counts jobs by state in the app's own registry."""
    failing: list[str | None] = [None]
    client = client_for(make_app(memory_stores, readiness=[lambda: failing[0]]))
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    failing[0] = "ray: head unreachable"
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503
    assert "ray: head unreachable" in not_ready.json()["error"]["message"]
    for _ in range(2):
        client.post("/v1/jobs", json=job_body())
    text = client.get("/metrics").text
    assert 'carbonshift_jobs{state="PENDING"} 2.0' in text
    assert 'carbonshift_jobs{state="RUNNING"} 0.0' in text
    assert "carbonshift_api_jobs_submitted_total 2.0" in text
    assert 'carbonshift_co2e_saved_grams_total{basis="realised"} 0.0' in text
    assert "carbonshift_deferral_seconds_total 0.0" in text
    assert "carbonshift_planner_duration_seconds_count 0.0" in text


def test_each_app_has_its_own_metrics_registry(
    memory_stores: Stores, clock: FakeClock, tmp_path: Any
) -> None:
    """Two apps in one process never share or clash on metrics."""
    from tests.scheduler.api.conftest import api_settings  # noqa: PLC0415

    first = ServiceMetrics(clock=clock)
    second = ServiceMetrics(clock=clock)
    settings = api_settings(tmp_path)
    for metrics in (first, second):
        create_app(
            store=memory_stores.jobs,
            tokens=memory_stores.tokens,
            clock=clock,
            settings=settings,
            metrics=metrics,
        )
    first.jobs_submitted.inc()
    assert b"carbonshift_api_jobs_submitted_total 1.0" in first.render()
    assert b"carbonshift_api_jobs_submitted_total 0.0" in second.render()


def test_forecasts_for_known_zones_only(
    memory_stores: Stores, make_app: AppFactory, client_for: ClientFor, clock: FakeClock
) -> None:
    """A configured zone's forecast comes with provenance; its age appears in /metrics."""
    provider = StaticProvider({"DE": 300.0, "FR": 50.0}, clock=clock)
    client = client_for(make_app(memory_stores, forecasts=provider))
    forecast = client.get("/v1/forecasts/FR?hours=6").json()
    assert forecast["zone"] == "FR"
    assert {point["g_per_kwh"] for point in forecast["points"]} == {50.0}
    assert forecast["provenance"]["provider"] == "static"
    assert client.get("/v1/forecasts/XX").status_code == 404
    gb = client.get("/v1/forecasts/GB")
    assert gb.status_code == 502
    assert "GB" in gb.json()["error"]["message"]
    clock.advance(timedelta(minutes=10))
    assert 'carbonshift_forecast_age_seconds{zone="FR"} 600.0' in client.get("/metrics").text


def test_openapi_documents_the_jobspec_body(
    memory_stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """/openapi.json shows JobSpec as the body of POST /v1/jobs and bearer auth."""
    schema = client_for(make_app(memory_stores)).get("/openapi.json").json()
    body = schema["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["required"]) == {
        "name",
        "entrypoint",
        "gpus",
        "estimated_duration_s",
        "deadline",
    }
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
