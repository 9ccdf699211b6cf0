"""Minting mesh access tokens (``typ: at+jwt``, ES256, short-lived)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from joserfc import jwt
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.auth import TOKEN_TYPE, Kind
from motcua.ids import new_id
from motcua_identity.context import Identity
from motcua_identity.keys.service import ALG


class TokenRead(BaseModel):
    """An access token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str | None = None


async def mint(session: AsyncSession, ctx: Identity, *, subject: str, kind: Kind,
               ttl_s: int, claims: Mapping[str, Any]) -> TokenRead:
    """Sign a mesh token for ``subject`` with the current key."""
    settings = ctx.settings
    key = await ctx.keys.signing_key(session)
    now = int(time.time())
    payload = {
        "iss": settings.resolved_auth_issuer(), "aud": settings.resolved_auth_audience(),
        "sub": subject, "iat": now, "nbf": now, "exp": now + ttl_s, "jti": new_id(),
        "kind": kind, **claims,
    }
    token = jwt.encode({"alg": ALG, "kid": key.kid, "typ": TOKEN_TYPE}, payload, key,
                       algorithms=[ALG])
    return TokenRead(access_token=token, expires_in=ttl_s, scope=claims.get("scope") or None)


def citizen_claims(*, personal_id: str, assurance: int, name: str | None) -> dict[str, Any]:
    """Claims of a citizen's token."""
    return {"pid": personal_id, "loa": assurance, "name": name}


def officer_claims(*, memberships: Mapping[str, list[str]], name: str | None) -> dict[str, Any]:
    """Claims of an officer's token."""
    return {"agencies": {a: sorted(r) for a, r in memberships.items()}, "name": name}
