"""Intake as ``motcua serve intake`` runs it, plus three routes that stop short of the
submission's work, for ``bench/floor.py``: what the HTTP layers cost per request.

- ``POST /bench/floor/raw``: the kit's middleware and routing; reads the body, answers
  a fixed 201.
- ``POST /bench/floor/auth``: + the body parsed into ``DossierSubmit``, the mesh token
  verified (``Submitter``), the response through ``DossierRead``.
- ``POST /bench/floor/deps``: + the other dependencies of ``POST /v1/dossiers``: the
  request's session (a transaction that executes nothing), Idempotency-Key, the desk.

The last two answer the ``DossierRead`` of one real submission (the first call to
``deps`` makes it). Only the bench starts this file; the service has none of these
routes.

    python bench/floor_app.py   (with intake's settings in the environment)
"""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.idempotency import IdempotencyDep
from motcua.service import SessionDep
from motcua_intake import access
from motcua_intake.access import Submitter
from motcua_intake.config import Settings
from motcua_intake.dossiers import service
from motcua_intake.dossiers.router import DeskDep
from motcua_intake.dossiers.schemas import DossierRead, DossierSubmit
from motcua_intake.dossiers.service import Desk
from motcua_intake.main import create_app

router = APIRouter(prefix="/bench/floor")
_ANSWER: dict[str, DossierRead] = {}


async def _answer(session: AsyncSession, body: DossierSubmit, desk: Desk,
                  who: Any) -> DossierRead:
    if "read" not in _ANSWER:
        _ANSWER["read"] = DossierRead.of(await service.submit(session, body, desk, who))
    return _ANSWER["read"]


@router.post("/raw", status_code=201)
async def raw(request: Request) -> Response:
    await request.body()
    return Response(b'{"code":"floor"}', status_code=201, media_type="application/json")


@router.post("/auth", status_code=201, response_model=DossierRead)
async def auth(body: DossierSubmit, who: Submitter) -> Any:
    access.ensure_may_submit(who, body)
    return _ANSWER["read"]


@router.post("/deps", status_code=201, response_model=DossierRead)
async def deps(body: DossierSubmit, session: SessionDep, idem: IdempotencyDep,
               desk: DeskDep, who: Submitter) -> Any:
    access.ensure_may_submit(who, body)
    return await _answer(session, body, desk, who)


def main() -> None:
    settings = Settings()
    app = create_app(settings)
    app.include_router(router)
    app.state.own_process = True  # as motcua serve does
    uvicorn.run(app, host=settings.host, port=settings.resolved_port(), log_config=None,
                access_log=False, timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
