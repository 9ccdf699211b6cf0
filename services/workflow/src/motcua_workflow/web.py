"""Small HTTP helpers shared by workflow's routers."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.idempotency import Idempotency, IdempotencyInProgress


async def remember(session: AsyncSession, idem: Idempotency, status_code: int,
                   body: Any) -> None:
    """Store the response for Idempotency-Key replays and flush it now.

    Flushing here (not at commit) turns a concurrent request with the same key into a
    409 ``idempotency.in_progress`` instead of a failed commit: on PostgreSQL the second
    insert waits for the first transaction and then meets its primary key, and the whole
    second transaction (its effect included) rolls back. (Candidate for the kit.)
    """
    idem.remember(session, status_code, body)
    try:
        await session.flush()
    except IntegrityError:
        raise IdempotencyInProgress("a request with this Idempotency-Key was processed "
                                    "at the same time") from None


def json_response(status_code: int, body: Any) -> JSONResponse:
    """A JSON response with a status other than the route's default."""
    from fastapi.encoders import jsonable_encoder

    return JSONResponse(jsonable_encoder(body), status_code=status_code)
