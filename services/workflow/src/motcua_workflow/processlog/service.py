"""Appending to and verifying a case's process log (the electronic control slip)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.encoders import jsonable_encoder
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.ids import new_id
from motcua_workflow.actors import Actor
from motcua_workflow.cases.models import Case
from motcua_workflow.processlog import chain
from motcua_workflow.processlog.models import ProcessLogEntry


def payload(entry: ProcessLogEntry) -> dict[str, Any]:
    """The fields an entry's hash covers."""
    return {
        "case_id": entry.case_id, "dossier_code": entry.dossier_code, "seq": entry.seq,
        "at": chain.instant(entry.at), "action": entry.action, "actor_id": entry.actor_id,
        "actor_role": entry.actor_role, "agency_code": entry.agency_code,
        "status_before": entry.status_before, "status_after": entry.status_after,
        "step_key": entry.step_key, "detail": entry.detail,
    }


def append(session: AsyncSession, case: Case, *, at: datetime, action: str, actor: Actor,
           status_before: int | None = None, status_after: int | None = None,
           detail: dict[str, Any] | None = None) -> ProcessLogEntry:
    """Add an entry chained to the case's head, and move the head (same transaction)."""
    added = entry(case, at=at, action=action, actor=actor, status_before=status_before,
                  status_after=status_after, detail=detail)
    session.add(added)
    return added


def entry(case: Case, *, at: datetime, action: str, actor: Actor,
          status_before: int | None = None, status_after: int | None = None,
          detail: dict[str, Any] | None = None) -> ProcessLogEntry:
    """The entry :func:`append` adds, for a caller that writes it itself (the head moves
    all the same: the entry must be written in the same transaction as the case)."""
    new = ProcessLogEntry(
        id=new_id(), case_id=case.id, dossier_code=case.dossier_code,
        seq=case.log_length + 1, at=at, action=action, actor_id=actor.id,
        actor_role=actor.role, agency_code=actor.agency_code if actor.agency_code != "SYSTEM"
        else case.current_agency_code, status_before=status_before,
        status_after=status_after, step_key=case.current_step,
        detail=jsonable_encoder(detail or {}), prev_hash=case.log_head or chain.GENESIS,
        hash="")
    new.hash = chain.link(new.prev_hash, payload(new))
    case.log_length, case.log_head = new.seq, new.hash
    return new


async def entries(session: AsyncSession, case: Case) -> list[ProcessLogEntry]:
    """The case's entries in order."""
    return list((await session.scalars(select(ProcessLogEntry)
                                       .where(ProcessLogEntry.case_id == case.id)
                                       .order_by(ProcessLogEntry.seq))).all())


async def verify(session: AsyncSession, case: Case) -> chain.Verification:
    """Recompute the chain from the stored entries and compare with the case's head."""
    rows = await entries(session, case)
    return chain.verify([(e.seq, e.prev_hash, e.hash, payload(e)) for e in rows],
                        expected_length=case.log_length, expected_head=case.log_head)
