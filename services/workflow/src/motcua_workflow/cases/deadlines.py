"""Late cases: classification, lateness prediction, the apology slip and the one extension.

Law (domain.md §2): a late dossier's agency must send, at the latest one working day
before the deadline, a written apology with the reason and a new appointment; the new
appointment may be set only once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.calendar import TIMEZONE
from motcua.contracts.workflow import CaseApologyDraftedV1, CaseExtendedV1
from motcua.ids import new_id
from motcua_workflow.actors import Actor
from motcua_workflow.cases import core, ledger
from motcua_workflow.cases.errors import (
    ApologyAlreadyDrafted,
    ApologyNotFound,
    BundleMemberAction,
    CaseClosed,
    CaseNotReceived,
    CasePaused,
    ExtensionAlreadyUsed,
    ExtensionNeedsReason,
    ExtensionNotLater,
)
from motcua_workflow.cases.models import Apology, Case
from motcua_workflow.context import Workflow


def classify_case(wf: Workflow, case: Case, ended_at: datetime) -> None:
    """Fix the case's classification when processing ends (status 9, or closed)."""
    if case.classification is not None:
        return
    due = case.due_at if wf.settings.classify_against_extended_due else case.statutory_due_at
    case.classification = ledger.classify(ended_at, due, case.supplement_requests)


async def predict_late(session: AsyncSession, wf: Workflow, case: Case, now: datetime) -> bool:
    """Whether the steps still to do need more working time than is left before the due.

    What is left of the current step's budget (never less than nothing) plus the budgets
    of the later steps, against the office time from now to the appointment.
    """
    if case.due_at is None or case.has_ended:
        return False
    spec = await core.spec(session, case)
    index = spec.index(case.current_step)
    if index < 0:
        return False
    cal = core.calendar(wf, case)
    current = spec.steps[index]
    spent = cal.working_time_between(case.step_entered_at or now, now)
    need = max(timedelta(), (core.step_budget(case, current) or timedelta()) - spent)
    for step in spec.steps[index + 1:]:
        need += core.step_budget(case, step) or timedelta()
    return cal.working_time_between(now, case.due_at) < need


async def apology_of(session: AsyncSession, case: Case) -> Apology | None:
    """The case's apology slip, if drafted."""
    return await session.scalar(select(Apology).where(Apology.case_id == case.id))


async def draft_apology(session: AsyncSession, wf: Workflow, case: Case, *, actor: Actor,
                        reason: str, proposed_due_at: datetime | None,
                        now: datetime) -> Apology:
    """Draft the apology and extension slip (one per case)."""
    _check_open(case)
    if await apology_of(session, case) is not None:
        raise ApologyAlreadyDrafted(f"{case.dossier_code} already has an apology slip")
    assert case.due_at is not None
    cal = core.calendar(wf, case)
    if proposed_due_at is None:
        ext = (await core.spec(session, case)).extension
        proposed_due_at = cal.add(case.due_at, ext.amount, ext.unit).due_at
    apology = Apology(id=new_id(), case_id=case.id, dossier_code=case.dossier_code,
                      drafted_at=now, drafted_by=actor.id, reason=reason,
                      original_due_at=case.due_at, proposed_due_at=proposed_due_at,
                      notice_deadline=cal.rewind(case.due_at, wf.notice_lead))
    session.add(apology)
    core.record_change(session, case, at=now, actor=actor, action="apology_drafted",
                       detail={"reason": reason, "original_due_at": case.due_at,
                               "proposed_due_at": proposed_due_at})
    core.emit(session, wf, case, CaseApologyDraftedV1, at=now, apology_id=apology.id,
              original_due_at=apology.original_due_at, proposed_due_at=proposed_due_at,
              reason=reason, notice_deadline=apology.notice_deadline, drafted_by=actor.id)
    await session.flush()
    return apology


async def extend(session: AsyncSession, wf: Workflow, case: Case, *, actor: Actor,
                 new_due_at: datetime | None, reason: str | None, now: datetime) -> Apology:
    """Send the apology and set the new appointment; a second time answers 409."""
    _check_open(case)
    if case.extended:
        raise ExtensionAlreadyUsed(
            f"{case.dossier_code} was already extended; the appointment is set only once")
    apology = await apology_of(session, case)
    if apology is None:
        if reason is None:
            raise ExtensionNeedsReason("give a reason, or draft the apology first")
        apology = await draft_apology(session, wf, case, actor=actor, reason=reason,
                                      proposed_due_at=new_due_at, now=now)
    assert case.due_at is not None
    new_due = (new_due_at or apology.proposed_due_at).astimezone(TIMEZONE)
    if new_due <= case.due_at:
        raise ExtensionNotLater(f"the appointment is {case.due_at.astimezone(TIMEZONE)}; "
                                f"{new_due} is not later")
    original = case.due_at
    await core.add_ledger_entry(session, wf, case, kind="extend", at=now, actor=actor,
                                new_due_at=new_due, reason=reason or apology.reason,
                                ref=apology.id)
    apology.issued_at, apology.issued_by, apology.new_due_at = now, actor.id, new_due
    apology.notice_in_time = now <= apology.notice_deadline
    # The alerts were about the old appointment; the new one gets its own.
    case.due_soon_sent_at = case.overdue_sent_at = None
    core.record_change(session, case, at=now, actor=actor, action="extended",
                       detail={"original_due_at": original, "new_due_at": new_due,
                               "notice_in_time": apology.notice_in_time})
    core.emit(session, wf, case, CaseExtendedV1, at=now, apology_id=apology.id,
              original_due_at=original, new_due_at=new_due, reason=reason or apology.reason,
              notice_in_time=apology.notice_in_time)
    await core.reschedule(session, wf, case)
    await session.flush()
    return apology


def _check_open(case: Case) -> None:
    if case.parent_case_id is not None:
        raise BundleMemberAction("apologise and extend through the bundle's case")
    if case.has_ended:
        raise CaseClosed(f"{case.dossier_code} is no longer being processed")
    if case.received_at is None:
        raise CaseNotReceived(f"{case.dossier_code} has no appointment yet")
    if case.is_paused:
        raise CasePaused(f"{case.dossier_code} waits for the applicant; its date is not fixed")


async def get_apology(session: AsyncSession, case: Case) -> Apology:
    """The case's apology slip, or ApologyNotFound."""
    apology = await apology_of(session, case)
    if apology is None:
        raise ApologyNotFound(f"{case.dossier_code} has no apology slip")
    return apology


def slip_text(apology: Apology) -> tuple[str, str]:
    """The slip's wording (Vietnamese, English): code, original date, reason, new date."""
    new = apology.new_due_at or apology.proposed_due_at
    fmt = "%H:%M %d/%m/%Y"
    orig = apology.original_due_at.astimezone(TIMEZONE).strftime(fmt)
    later = new.astimezone(TIMEZONE).strftime(fmt)
    vi = (f"PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ. Hồ sơ {apology.dossier_code} "
          f"hẹn trả kết quả lúc {orig}. Cơ quan xin lỗi vì chưa trả kết quả đúng hẹn. "
          f"Lý do: {apology.reason}. Thời gian hẹn trả kết quả mới: {later}.")
    en = (f"APOLOGY AND NEW APPOINTMENT. Dossier {apology.dossier_code} was due {orig}. "
          f"The agency apologises for not returning the result on time. Reason: "
          f"{apology.reason}. New appointment: {later}.")
    return vi, en
