"""Client-credentials token endpoint for service-to-service calls."""

from __future__ import annotations

import base64
import hmac
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from motcua.auth import PUBLIC
from motcua.errors import problems
from motcua.logging import get_logger
from motcua.service import SessionDep
from motcua_identity.context import IdentityDep
from motcua_identity.tokens import service
from motcua_identity.tokens.errors import (
    InvalidClient,
    InvalidScope,
    InvalidTokenRequest,
    UnsupportedGrantType,
)

router = APIRouter(prefix="/v1/oauth2", tags=["tokens"])
log = get_logger("motcua_identity.tokens")

_FORM = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": {
        "type": "object", "required": ["grant_type"],
        "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]},
                       "scope": {"type": "string"}, "client_id": {"type": "string"},
                       "client_secret": {"type": "string"}}}}}}}


def _form(raw: bytes) -> dict[str, str]:
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise InvalidTokenRequest("the body must be UTF-8 form data",
                                  error="invalid_request") from exc
    if any(len(v) > 1 for v in parsed.values()):
        raise InvalidTokenRequest("a parameter was repeated", error="invalid_request")
    return {k: v[0] for k, v in parsed.items()}


def _credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization")
    in_body = "client_secret" in form
    if header and in_body:
        raise InvalidTokenRequest("use one client authentication method",
                                  error="invalid_request")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            raise InvalidClient("use HTTP Basic or client_secret_post", error="invalid_client")
        try:
            client_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidClient("malformed Basic credentials", error="invalid_client") from exc
        return unquote_plus(client_id), unquote_plus(secret)
    if in_body:
        return form.get("client_id", ""), form["client_secret"]
    raise InvalidClient("client authentication is required", error="invalid_client")


@router.post("/token", operation_id="issueToken", openapi_extra=_FORM, dependencies=[PUBLIC],
             responses=problems(InvalidClient, UnsupportedGrantType, InvalidScope,
                                InvalidTokenRequest))
async def issue_token(request: Request, session: SessionDep, ctx: IdentityDep) -> JSONResponse:
    """Client-credentials grant (RFC 6749 §4.4) for mesh services configured by settings.

    Public: the client authenticates with its secret (Basic or form fields).
    """
    if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"):
        raise InvalidTokenRequest("send application/x-www-form-urlencoded",
                                  error="invalid_request")
    form = _form(await request.body())
    client_id, secret = _credentials(request, form)
    client = ctx.settings.service_clients.get(client_id)
    expected = client.secret.get_secret_value().encode() if client else b"\0"
    if client is None or not hmac.compare_digest(secret.encode(), expected):
        log.warning("token_client_rejected", client_id=client_id[:64])
        raise InvalidClient("unknown client or wrong secret", error="invalid_client")
    if form.get("grant_type") != "client_credentials":
        raise UnsupportedGrantType("only client_credentials is supported",
                                   error="unsupported_grant_type")
    granted = set(client.scopes)
    asked = set(form["scope"].split()) if form.get("scope") else granted
    if not asked <= granted:
        raise InvalidScope(f"not granted: {' '.join(sorted(asked - granted))}",
                           error="invalid_scope")
    claims: dict[str, Any] = {"client_id": client_id, "scope": " ".join(sorted(asked))}
    token = await service.mint(session, ctx, subject=f"service:{client_id}", kind="service",
                               ttl_s=ctx.settings.service_token_ttl_s, claims=claims)
    return JSONResponse(token.model_dump(exclude_none=True),
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
