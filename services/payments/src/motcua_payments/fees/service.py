"""Fee assessment use cases: assess a received dossier, release it on withdrawal/refusal."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua import outbox
from motcua.contracts.intake import DossierReceivedV1
from motcua.contracts.payments import AssessedLine, FeeAssessedV1
from motcua.db import utcnow
from motcua.ids import new_id
from motcua_payments.context import PaymentsContext
from motcua_payments.errors import AssessmentNotFound
from motcua_payments.fees.models import DUE, WAIVED, Assessment, AssessmentLine


def _exemption(kind: str, claimed: list[str], rules: dict[str, list[str]]) -> str | None:
    """The first claimed category whose rule exempts this kind of line."""
    for category in claimed:
        if kind in rules.get(category, ()):
            return category
    return None


async def assess_received(session: AsyncSession, ctx: PaymentsContext,
                          data: DossierReceivedV1) -> Assessment:
    """Assess the fee lines of a received dossier and record FeeAssessedV1 (once per dossier).

    A line is payable unless the catalog waives it, its amount is not configured yet, or
    a claimed applicant category is exempt from its kind (fee / charge). What must be paid
    before processing makes the whole dossier wait in status 6.
    """
    existing = await get_by_dossier(session, data.dossier_code, missing_ok=True)
    if existing is not None:
        # A replay or a second reception event assesses nothing new; it may only supply
        # the owner reference an earlier event lacked (the owner of a dossier never changes).
        if existing.owner_ref is None and data.owner_ref is not None:
            existing.owner_ref = data.owner_ref
            await session.flush()
        return existing
    rules = ctx.settings.exemption_rules
    now = utcnow()
    assessment = Assessment(
        id=new_id(), dossier_code=data.dossier_code, agency_code=data.agency_code,
        procedure_code=data.procedure_code, applicant_kind=data.applicant_kind,
        channel=data.channel, owner_ref=data.owner_ref,
        exemptions_claimed=list(data.exemptions_claimed),
        exemptions_applied=[], total_vnd=0, exempted_vnd=0, payable_vnd=0, unpriced_lines=0,
        collect="none", status=DUE, settled_vnd=0, refunded_vnd=0, released_vnd=0,
        released_reason=None, paid_online=False, assessed_at=now, version=1)
    session.add(assessment)
    applied: list[str] = []
    lines: list[AssessmentLine] = []
    for position, fee in enumerate(data.fee_lines):
        exemption = None
        if fee.amount_vnd is None:
            payable = 0
            assessment.unpriced_lines += 1
        elif fee.collect == "waived":
            payable = 0
        else:
            exemption = _exemption(fee.kind, data.exemptions_claimed, rules)
            payable = 0 if exemption else fee.amount_vnd
            if exemption:
                assessment.exempted_vnd += fee.amount_vnd
                if exemption not in applied:
                    applied.append(exemption)
        assessment.total_vnd += fee.amount_vnd or 0
        assessment.payable_vnd += payable
        lines.append(AssessmentLine(
            id=new_id(), assessment_id=assessment.id, position=position, code=fee.code,
            kind=fee.kind, label_vi=fee.label_vi, amount_vnd=fee.amount_vnd,
            collect=fee.collect, exemption=exemption, payable_vnd=payable))
    payable_when = {x.collect for x in lines if x.payable_vnd > 0}
    assessment.collect = "before" if "before" in payable_when else \
        "after" if "after" in payable_when else "none"
    assessment.exemptions_applied = applied
    if assessment.payable_vnd == 0:
        assessment.status = WAIVED
    session.add_all(lines)
    outbox.record(session, FeeAssessedV1(
        assessment_id=assessment.id, dossier_code=assessment.dossier_code,
        agency_code=assessment.agency_code, occurred_at=now,
        procedure_code=assessment.procedure_code, total_vnd=assessment.total_vnd,
        exempted_vnd=assessment.exempted_vnd, payable_vnd=assessment.payable_vnd,
        collect=assessment.collect, pay_before_processing=assessment.pay_before_processing,
        exemptions_applied=applied,
        lines=[AssessedLine(**x.as_dict()) for x in lines]),
        province=ctx.province, key=assessment.dossier_code, sequence=assessment.version)
    await session.flush()
    return assessment


async def get_by_dossier(session: AsyncSession, dossier_code: str, *, for_update: bool = False,
                         missing_ok: bool = False) -> Assessment:
    """The assessment of a dossier, or AssessmentNotFound."""
    stmt = select(Assessment).where(Assessment.dossier_code == dossier_code)
    if for_update:
        # populate_existing: a row read earlier in this session is refreshed once locked.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    assessment = await session.scalar(stmt)
    if assessment is None and not missing_ok:
        raise AssessmentNotFound(f"no fee assessment for dossier {dossier_code}")
    return assessment  # type: ignore[return-value]


async def lines_of(session: AsyncSession, assessment_id: str) -> list[AssessmentLine]:
    """The assessment's lines, in catalog order."""
    return list((await session.scalars(select(AssessmentLine).where(
        AssessmentLine.assessment_id == assessment_id).order_by(AssessmentLine.position))).all())
