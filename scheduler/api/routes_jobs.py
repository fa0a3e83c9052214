"""``/v1/jobs``: submit, list, read, cancel and re-cap jobs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel

from scheduler.api.context import Caller, Ctx, json_body
from scheduler.api.errors import ApiError
from scheduler.api.jobs import JobFilter
from scheduler.api.views import Caps, ErrorBody, JobPage, JobView
from scheduler.model import ApiRole, JobSpec, JobState

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (401, 403, 404, 409, 413, 422, 429, 503)
}

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=ERRORS)


def json_view(
    view: BaseModel, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """``view`` as JSON, serialised once by pydantic (FastAPI would validate it again)."""
    return Response(
        view.model_dump_json(), status_code=status, headers=headers, media_type="application/json"
    )


_SPEC_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": JobSpec.model_json_schema()}},
    }
}


@router.post("", status_code=202, response_model=JobView, openapi_extra=_SPEC_BODY)
def submit_job(
    *,
    ctx: Ctx,
    caller: Caller,
    payload: Annotated[Any, Depends(json_body)],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="same key and body: the same job; same key, other body: 409",
        ),
    ] = None,
) -> Response:
    """Submit a job (a JobSpec). Answers 202 with the stored job and its first decision."""
    caller.require(ApiRole.SUBMITTER, "submitting a job")
    wait_s = ctx.limiter.acquire(caller.token_id)
    if wait_s is not None:
        ctx.metrics.rate_limited.inc()
        raise ApiError(
            429,
            "rate_limited",
            f"this token submitted too many jobs in the last minute; retry in {wait_s} s",
            headers={"Retry-After": str(wait_s)},
        )
    view = ctx.jobs.submit(payload, caller, idempotency_key)
    ctx.metrics.jobs_submitted.inc()
    return json_view(view, status=202, headers={"Location": f"/v1/jobs/{view.id}"})


@router.get("", response_model=JobPage)
def list_jobs(
    *,
    ctx: Ctx,
    caller: Caller,
    state: Annotated[list[JobState] | None, Query(description="repeat for several")] = None,
    team: Annotated[str | None, Query(max_length=100)] = None,
    project: Annotated[str | None, Query(max_length=100)] = None,
    model_version: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """Jobs you may see, oldest first, filtered and paged (``next_offset`` for the next page)."""
    where = JobFilter(
        states=tuple(state or ()), team=team, project=project, model_version=model_version
    )
    return json_view(
        ctx.jobs.page(caller, where, limit=min(limit, ctx.max_page_size), offset=offset)
    )


@router.get("/{job_id}", response_model=JobView)
def get_job(ctx: Ctx, caller: Caller, job_id: str) -> Response:
    """One job: state, attempts, current decision and explanation, plan, realised outcome."""
    return json_view(ctx.jobs.view(job_id, caller))


@router.delete("/{job_id}", response_model=JobView)
def cancel_job(ctx: Ctx, caller: Caller, job_id: str) -> Response:
    """Cancel a job; a running one is stopped on its cluster. Cancelling twice is harmless."""
    return json_view(ctx.jobs.cancel(job_id, caller))


@router.patch("/{job_id}/caps", response_model=JobView)
def set_caps(ctx: Ctx, caller: Caller, job_id: str, caps: Caps) -> Response:
    """Change ``power_cap_w`` / ``energy_cap_kwh`` of a pending or running job."""
    return json_view(ctx.jobs.set_caps(job_id, caller, caps))
