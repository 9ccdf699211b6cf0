"""``Idempotency-Key`` for state-changing POSTs (as GOV.UK Pay does it).

Same key and same body → the original response; same key and a different body → 409.
The remembered response is written in the request's own transaction, so it exists if
and only if the effect was committed. Two concurrent requests with one key meet at the
primary key: the loser's commit fails and it answers 409 ``idempotency.in_progress``
(payments' ``POST /v1/payments``, which commits before and after the gateway's INIT,
answers ``payment.already_pending`` to the loser, docs/payments.md).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.auth import OptionalPrincipal, Principal
from motcua.db import idempotency_table, utcnow
from motcua.errors import Conflict, FieldError, ValidationFailed


class IdempotencyKeyReused(Conflict):
    code = "idempotency.key_reused"
    title = "Idempotency-Key was used with a different request body"


class IdempotencyInProgress(Conflict):
    code = "idempotency.in_progress"
    title = "A request with this Idempotency-Key is being processed"


class Idempotency:
    """Per-request helper: look up a key before acting, remember the response after."""

    def __init__(self, key: str | None, scope: str, request_hash: str) -> None:
        self.key = key
        self.scope = scope
        self.request_hash = request_hash

    async def replay(self, session: AsyncSession) -> JSONResponse | None:
        """The original response if this key was already used with the same body."""
        if self.key is None:
            return None
        row = (await session.execute(select(idempotency_table).where(
            idempotency_table.c.scope == self.scope,
            idempotency_table.c.key == self.key))).first()
        if row is None:
            return None
        if row.request_hash != self.request_hash:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was first used with a different request body")
        return JSONResponse(row.response_body, status_code=row.status_code,
                            headers={"Idempotent-Replayed": "true"})

    def remember(self, session: AsyncSession, status_code: int, body: Any) -> None:
        """Store the response in the current transaction."""
        if self.key is None:
            return
        session.sync_session.info.setdefault("idempotency", True)
        session.add(_IdempotencyRow(
            scope=self.scope, key=self.key, request_hash=self.request_hash,
            status_code=status_code, response_body=jsonable_encoder(body), created_at=utcnow()))


class _IdempotencyRow:
    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)


from sqlalchemy.orm import registry as _registry  # noqa: E402

_registry().map_imperatively(_IdempotencyRow, idempotency_table)


async def _idempotency(
    request: Request,
    principal: OptionalPrincipal,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key",
                                                  description="Replay-safe retry key")] = None,
) -> Idempotency:
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 255):
        raise ValidationFailed("Idempotency-Key must be 1–255 characters", errors=[FieldError(
            field="header.Idempotency-Key", code="field.length", message="1–255 characters")])
    body = await request.body()
    digest = hashlib.sha256(request.method.encode() + b" " + request.url.path.encode()
                            + b"\n" + body).hexdigest()
    return Idempotency(idempotency_key, idempotency_scope(request, principal), digest)


def idempotency_scope(request: Request, principal: Principal | None) -> str:
    """Keys are scoped per route and caller (the verified principal, not the token, so a
    retry with a refreshed token still replays), and two callers never collide."""
    caller = f"{principal.kind}:{principal.subject}" if principal is not None else "anonymous"
    caller_hash = hashlib.sha256(caller.encode()).hexdigest()[:16]
    return f"{request.method} {request.url.path} {caller_hash}"


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]
