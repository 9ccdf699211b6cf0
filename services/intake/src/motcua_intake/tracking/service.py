"""Public tracking: what a citizen may see of a dossier, given its code and a factor.

The second factor is the last four digits of the applicant's ID number (or tax code)
or of the phone number given at submission. A wrong factor and an unknown code answer
the same, so the endpoint does not reveal which codes exist. The view carries no
personal data: no name, no numbers, only statuses, dates and what is awaited.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.errors import NotFound, Problem
from motcua_intake.catalog.repository import CatalogRepository
from motcua_intake.dossiers.models import STATUS_LABELS, Dossier
from motcua_intake.dossiers.repository import DossierRepository
from motcua_intake.dossiers.schemas import Awaited


class TrackingNotFound(NotFound):
    code = "tracking.not_found"
    title = "No dossier matches this code and second factor"


class TrackingRateLimited(Problem):
    status = 429
    code = "tracking.rate_limited"
    title = "Too many tracking requests; try again later"


class TimelineEntry(BaseModel):
    """A status the dossier went through."""

    at: datetime
    status: int
    label_vi: str
    label_en: str
    note_vi: str | None
    note_en: str | None


class TrackingView(BaseModel):
    """What public tracking shows (no personal data)."""

    code: str
    procedure_code: str
    procedure_name_vi: str
    procedure_name_en: str | None
    channel: str
    status: int
    status_label_vi: str
    status_label_en: str
    submitted_at: datetime
    received_at: datetime | None
    due_at: datetime | None
    timeline: list[TimelineEntry]
    awaited: list[Awaited]


def factor_matches(dossier: Dossier, factor: str) -> bool:
    """Whether ``factor`` is the last four digits of the ID number or phone (constant time)."""
    candidates = [dossier.applicant_id_number, dossier.applicant_phone or ""]
    ok = False
    for value in candidates:
        digits = "".join(ch for ch in value if ch.isdigit())
        if len(digits) >= 4:
            ok |= hmac.compare_digest(digits[-4:].encode(), factor.encode())
    return ok


async def view(session: AsyncSession, code: str, factor: str) -> TrackingView | None:
    """The public view of a dossier, or None when the code or factor does not match."""
    repo = DossierRepository(session)
    dossier = await repo.get(code)
    if dossier is None or not factor_matches(dossier, factor):
        return None
    procedure = await CatalogRepository(session).procedure(dossier.procedure_code)
    label_vi, label_en = STATUS_LABELS[dossier.status]
    timeline = [TimelineEntry(at=h.at, status=h.status, label_vi=STATUS_LABELS[h.status][0],
                              label_en=STATUS_LABELS[h.status][1],
                              note_vi=_public_note(h.kind, h.note_vi),
                              note_en=_public_note(h.kind, h.note_en))
                for h in await repo.history(dossier.code)]
    return TrackingView(
        code=dossier.code, procedure_code=dossier.procedure_code,
        procedure_name_vi=procedure.name_vi if procedure else dossier.procedure_code,
        procedure_name_en=procedure.name_en if procedure else None, channel=dossier.channel,
        status=dossier.status, status_label_vi=label_vi, status_label_en=label_en,
        submitted_at=dossier.submitted_at, received_at=dossier.received_at,
        due_at=dossier.due_at, timeline=timeline,
        awaited=[Awaited(**a) for a in dossier.awaited or []])


def _public_note(kind: str, note: str | None) -> str | None:
    # Ratings stay with the applicant and the agency; everything else is about the dossier.
    return None if kind == "rated" else note
