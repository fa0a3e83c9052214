"""``/v1/tokens``: admins create, list and revoke API tokens."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from scheduler.api.auth import issue_token
from scheduler.api.context import Caller, Ctx
from scheduler.api.routes_jobs import ERRORS
from scheduler.model import ApiRole, ApiToken

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], responses=ERRORS)


class NewToken(BaseModel):
    """A token to create."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    team: str = Field(min_length=1, max_length=100)
    role: ApiRole


class TokenInfo(BaseModel):
    """A token as listed: never the secret, never its digest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    team: str
    role: ApiRole
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenInfo:
        """The listing of ``token``."""
        return cls(
            id=token.id,
            team=token.team,
            role=token.role,
            created_at=token.created_at,
            revoked_at=token.revoked_at,
        )


class CreatedToken(TokenInfo):
    """A new token, with its secret: shown this once only."""

    token: str


@router.post("", status_code=201, response_model=CreatedToken)
def create_token(ctx: Ctx, caller: Caller, body: NewToken) -> CreatedToken:
    """Create a token for a team and role; the secret is in this answer only."""
    caller.require(ApiRole.ADMIN, "creating tokens")
    secret, record = issue_token(ctx.tokens, team=body.team, role=body.role, now=ctx.clock.now())
    return CreatedToken(token=secret, **TokenInfo.of(record).model_dump())


@router.get("", response_model=list[TokenInfo])
def list_tokens(ctx: Ctx, caller: Caller) -> list[TokenInfo]:
    """Every token, active and revoked."""
    caller.require(ApiRole.ADMIN, "listing tokens")
    return [TokenInfo.of(token) for token in ctx.tokens.tokens()]


@router.delete("/{token_id}", response_model=TokenInfo)
def revoke_token(ctx: Ctx, caller: Caller, token_id: str) -> TokenInfo:
    """Revoke a token; requests with it are refused from now on."""
    caller.require(ApiRole.ADMIN, "revoking tokens")
    return TokenInfo.of(ctx.tokens.revoke(token_id, at=ctx.clock.now()))
