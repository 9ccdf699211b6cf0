"""The published keys and their rotation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from motcua.auth import PUBLIC, Principal, require
from motcua.errors import problems
from motcua.service import SessionDep
from motcua_identity.context import IdentityDep

router = APIRouter(tags=["keys"])


class RotationRead(BaseModel):
    """The new current key and the one it replaced (still published)."""

    kid: str
    previous_kid: str | None


@router.get("/.well-known/jwks.json", operation_id="getJwks", dependencies=[PUBLIC])
async def jwks(session: SessionDep, ctx: IdentityDep) -> JSONResponse:
    """The public keys that verify mesh tokens (current and previous). Public."""
    return JSONResponse(await ctx.keys.jwks(session),
                        headers={"Cache-Control": "public, max-age=300"})


@router.post("/v1/keys/rotation", operation_id="rotateSigningKey", responses=problems())
async def rotate(session: SessionDep, ctx: IdentityDep,
                 _: Annotated[Principal, require(kind="service",
                                                 scopes=["identity.keys.rotate"])],
                 ) -> RotationRead:
    """Rotate the signing key now (operators; also done automatically by age)."""
    done = await ctx.keys.rotate(session)
    return RotationRead(kid=done.kid, previous_kid=done.previous_kid)
