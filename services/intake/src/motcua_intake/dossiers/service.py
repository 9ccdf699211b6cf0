"""Dossier use cases: each validates fully before writing and records its events in the
caller's transaction (so a refused request leaves nothing behind).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from motcua import idnumbers, outbox
from motcua.auth import Principal
from motcua.calendar import TIMEZONE, Calendar
from motcua.contracts.intake import (
    DossierRatedV1,
    DossierReceivedV1,
    DossierRefusedV1,
    DossierSubmittedV1,
    DossierSupplementedV1,
    DossierWithdrawnV1,
    StatutoryTime,
)
from motcua.db import insert_new, utcnow
from motcua.errors import FieldError, ValidationFailed
from motcua.ids import new_id
from motcua_intake.access import is_uploader, owner_ref_of
from motcua_intake.attachments import service as attachments
from motcua_intake.catalog import fees
from motcua_intake.catalog.cache import CachedCatalog
from motcua_intake.catalog.models import COMPETENT, RECEPTION, Agency, Procedure
from motcua_intake.catalog.repository import CatalogRepository
from motcua_intake.catalog.schemas import ComponentDef, ProcedureDefinition
from motcua_intake.catalog.service import business_today
from motcua_intake.dossiers import codes
from motcua_intake.dossiers.documents import (
    SOURCES_BY_CHANNEL,
    SUPPLEMENT_SOURCES,
    components_of,
    document_errors,
    missing_components,
)
from motcua_intake.dossiers.errors import (
    AgencyReplaced,
    AgencyRequired,
    AgencyUnknown,
    ApplicantIdInvalid,
    ComponentsMissing,
    DocumentsInvalid,
    DossierNotFound,
    ExemptionUnknown,
    ProcedureNotAtAgency,
    ProcedureNotAvailable,
    ProcedureNotConfigured,
    ProcedureNotReceivedHere,
    ProcedureUnknown,
)
from motcua_intake.dossiers.models import (
    STATUS_LABELS,
    SUBMITTED,
    SUPPLEMENT_REQUESTED,
    Dossier,
    DossierDocument,
    DossierHistory,
)
from motcua_intake.dossiers.repository import DossierRepository
from motcua_intake.dossiers.schemas import (
    DocumentIn,
    DossierRate,
    DossierRefuse,
    DossierSubmit,
    DossierSupplement,
    DossierWithdraw,
)

_ACCEPTED_KINDS = {"individual": {"personal_id_12", "legacy_id_9"},
                   "organisation": {"tax_code"}}


@dataclass(frozen=True)
class Desk:
    """What the use cases need from the running service."""

    province: str
    calendar: Calendar
    code_format: str = "local"
    system_owner_code: str = "01"
    #: Key of the applicant's owner reference on events (``motcua.auth.owner_ref``).
    owner_ref_key: str = ""

    def owner_ref(self, dossier: Dossier) -> str | None:
        """The owner reference events carry for the dossier's applicant."""
        return owner_ref_of(dossier.applicant_id_number, self.owner_ref_key)


# Submission


def _check_applicant(body: DossierSubmit) -> str:
    """The normalised ID number, or ApplicantIdInvalid with every reason."""
    result = idnumbers.validate(body.applicant.id_number)
    if not result.valid or result.kind not in _ACCEPTED_KINDS[body.applicant.kind]:
        reasons = [FieldError(field="applicant.id_number", code=r.code, message=r.message_en)
                   for r in result.reasons] or [FieldError(
                       field="applicant.id_number", code="applicant.kind_mismatch",
                       message=f"a {result.kind} does not identify an {body.applicant.kind}")]
        raise ApplicantIdInvalid("the applicant's identification number is not valid",
                                 errors=reasons)
    assert result.normalized is not None
    return result.normalized


async def _agency(repo: CatalogRepository | CachedCatalog, code: str, field: str,
                  today: Any) -> Agency:
    agency = await repo.agency(code)
    if agency is None:
        raise AgencyUnknown(errors=[FieldError(field=field, code="agency.unknown",
                                               message="unknown agency code")])
    if not agency.is_valid_on(today):
        raise AgencyReplaced(
            f"{code} is not in force" + (f"; use {agency.replaced_by}"
                                         if agency.replaced_by else ""),
            replaced_by=agency.replaced_by,
            errors=[FieldError(field=field, code="agency.replaced",
                               message=f"replaced by {agency.replaced_by}")])
    return agency


async def _route(repo: CatalogRepository | CachedCatalog, body: DossierSubmit, procedure: Procedure,
                 today: Any) -> tuple[str, str | None]:
    """The competent agency and the reception point, checked against the catalog."""
    roles = await repo.roles(procedure.national_code)
    if body.channel in ("direct", "postal") and body.reception_point is None:
        raise ValidationFailed("direct and postal dossiers name their reception point",
                               errors=[FieldError(field="reception_point",
                                                  code="field.required",
                                                  message="required for this channel")])
    if body.reception_point is not None:
        await _agency(repo, body.reception_point, "reception_point", today)
        if body.reception_point not in roles[RECEPTION]:
            raise ProcedureNotReceivedHere(
                f"{body.reception_point} does not receive {procedure.national_code}",
                reception_points=sorted(roles[RECEPTION]),
                errors=[FieldError(field="reception_point", code="procedure.not_received_here",
                                   message="not a reception point of this procedure")])
    if body.agency_code is not None:
        await _agency(repo, body.agency_code, "agency_code", today)
        if body.agency_code not in roles[COMPETENT]:
            raise ProcedureNotAtAgency(
                f"{body.agency_code} does not handle {procedure.national_code}",
                agencies=sorted(roles[COMPETENT]),
                errors=[FieldError(field="agency_code", code="procedure.not_at_agency",
                                   message="not a competent agency of this procedure")])
        return body.agency_code, body.reception_point
    if body.reception_point in roles[COMPETENT]:
        return body.reception_point, body.reception_point
    if len(roles[COMPETENT]) == 1:
        return next(iter(roles[COMPETENT])), body.reception_point
    candidates = sorted(roles[COMPETENT])
    raise AgencyRequired(agencies=candidates, errors=[FieldError(
        field="agency_code", code="field.required",
        message="choose one of: " + ", ".join(candidates) if candidates
        else "no competent agency is configured for this procedure")])


async def _members(repo: CatalogRepository | CachedCatalog,
                   definition: ProcedureDefinition) -> dict[str, ProcedureDefinition]:
    if definition.bundle is None:
        return {}
    found = await repo.procedures(definition.bundle.member_codes())
    return {code: ProcedureDefinition.model_validate(p.definition)
            for code, p in found.items() if p.definition}


async def _check_documents(session: AsyncSession, documents: list[DocumentIn],
                           components: list[ComponentDef], allowed: frozenset[str],
                           *, require_all: bool, who: Principal,
                           owner_ref_key: str) -> dict[str, Any]:
    """Validate documents and their attachments; the attachments to attach, by id.

    Citizens and officers attach only what they uploaded themselves (someone else's
    upload answers as unknown, so ids cannot be probed); services upload nothing and
    attach what their callers uploaded.
    """
    errors = document_errors(documents, components, allowed)
    ids = [a for d in documents for a in d.attachment_ids]
    found = await attachments.usable(session, ids)
    if who.kind != "service":
        found = {k: a for k, a in found.items() if is_uploader(who, a, owner_ref_key)}
    seen: set[str] = set()
    for i, doc in enumerate(documents):
        for j, attachment_id in enumerate(doc.attachment_ids):
            where = f"documents.{i}.attachment_ids.{j}"
            attachment = found.get(attachment_id)
            if attachment is None:
                errors.append(FieldError(field=where, code="attachment.unknown",
                                         message=f"no attachment {attachment_id}"))
            elif attachment.dossier_code is not None:
                errors.append(FieldError(field=where, code="attachment.in_use",
                                         message="already part of a dossier"))
            elif attachment_id in seen:
                errors.append(FieldError(field=where, code="attachment.duplicate",
                                         message="named twice"))
            seen.add(attachment_id)
    if errors:
        raise DocumentsInvalid(f"{len(errors)} problem(s) with the documents", errors=errors)
    if require_all:
        missing = missing_components(documents, components)
        if missing:
            raise ComponentsMissing(
                f"{len(missing)} required component(s) missing: "
                + ", ".join(c.code for c in missing),
                missing=[{"code": c.code, "name_vi": c.name_vi, "name_en": c.name_en}
                         for c in missing],
                errors=[FieldError(field="documents", code="component.missing",
                                   message=f"{c.code}: {c.name_en or c.name_vi}")
                        for c in missing])
    return found


def _documents(dossier: Dossier, documents: list[DocumentIn], found: dict[str, Any], *,
               stage: str, at: datetime,
               request_id: str | None = None) -> list[DossierDocument]:
    """The document rows of ``documents`` (one per attachment, or one without); marks the
    attachments as part of the dossier."""
    rows = []
    for doc in documents:
        for attachment_id in doc.attachment_ids or [None]:
            rows.append(DossierDocument(
                id=new_id(), dossier_code=dossier.code, component_code=doc.component_code,
                source=doc.source, attachment_id=attachment_id,
                data_store_ref=doc.data_store_ref, copies=doc.copies, stage=stage,
                supplement_request_id=request_id, created_at=at))
        for attachment_id in doc.attachment_ids:
            found[attachment_id].dossier_code = dossier.code
            found[attachment_id].attached_at = at
    return rows


async def submit(session: AsyncSession, body: DossierSubmit, desk: Desk,
                 who: Principal) -> Dossier:
    """Accept a submission: validate all of it, number it, store it, record its events.

    A direct submission with ``receive_now`` is received in the same step: both
    ``dossier.submitted`` and ``dossier.received`` are recorded. ``who`` (allowed by
    ``access.ensure_may_submit``) is recorded as the submitter.
    """
    id_number = _check_applicant(body)
    repo = CachedCatalog(session)
    now = utcnow()
    today = business_today(now)
    procedure = await repo.procedure(body.procedure_code)
    if procedure is None or not procedure.definition:
        raise ProcedureUnknown(errors=[FieldError(field="procedure_code",
                                                  code="procedure.unknown",
                                                  message="not in the catalog")])
    if not procedure.is_available_on(today):
        raise ProcedureNotAvailable(errors=[FieldError(
            field="procedure_code", code="procedure.not_available",
            message=f"status {procedure.status}, in force {procedure.valid_from} to "
                    f"{procedure.valid_to}")])
    definition = repo.definition(procedure)
    if definition.statutory_time.for_channel(body.channel) is None:
        raise ProcedureNotConfigured(errors=[FieldError(
            field="procedure_code", code="procedure.not_configured",
            message="the province has not set this procedure's statutory time")])
    agency_code, reception_point = await _route(repo, body, procedure, today)
    known = definition.exemption_keys()
    unknown = [i for i, key in enumerate(body.exemptions_claimed) if key not in known]
    if unknown:
        raise ExemptionUnknown(allowed=sorted(known), errors=[FieldError(
            field=f"exemptions_claimed.{i}", code="exemption.unknown",
            message=f"{body.exemptions_claimed[i]} is not an exemption of this procedure")
            for i in unknown])
    if body.receive_now and body.channel != "direct":
        raise ValidationFailed(errors=[FieldError(
            field="receive_now", code="field.not_allowed",
            message="only a direct (counter) submission is received in one step")])
    components = components_of(definition, await _members(repo, definition))
    found = await _check_documents(session, body.documents, components,
                                   SOURCES_BY_CHANNEL[body.channel], require_all=True,
                                   who=who, owner_ref_key=desk.owner_ref_key)

    numbering_agency = reception_point or agency_code
    sequence = await DossierRepository(session).next_sequence(
        numbering_agency, codes.business_day(now))
    dossier = Dossier(
        code=codes.dossier_code(numbering_agency, now, sequence, fmt=desk.code_format,
                                owner=desk.system_owner_code),
        agency_code=agency_code, procedure_code=procedure.national_code,
        procedure_version=procedure.version, channel=body.channel,
        reception_point=reception_point, status=SUBMITTED,
        applicant_kind=body.applicant.kind, applicant_id_number=id_number,
        applicant_name=body.applicant.full_name, applicant_phone=body.applicant.phone,
        representative_id_number=who.personal_id
        if who.kind == "citizen" and body.applicant.kind == "organisation" else None,
        result_delivery=body.result_delivery, exemptions_claimed=body.exemptions_claimed,
        submitted_at=now, submitted_by=who.subject, awaited=[_awaiting_reception()],
        supplement_count=0, case_sequence=0, updated_at=now, version=1,
    )
    # Rows written once: Core inserts (db.insert_new), not the unit of work. The
    # submitted line and event are taken before a same-step reception changes the dossier.
    rows: list[Any] = [*_documents(dossier, body.documents, found, stage="submission",
                                   at=now), _history_row(dossier, "submitted", now)]
    rows.append(outbox.new_row(session, DossierSubmittedV1(
        dossier_code=dossier.code, agency_code=dossier.agency_code,
        procedure_code=dossier.procedure_code, status=dossier.status, occurred_at=now,
        channel=body.channel, reception_point=reception_point,
        applicant_kind=body.applicant.kind,
        bundle_code=procedure.national_code if definition.bundle else None,
        member_procedures=definition.bundle.member_codes() if definition.bundle else [],
        owner_ref=desk.owner_ref(dossier), vneid_verified=who.kind == "citizen",
    ), province=desk.province, key=dossier.code, sequence=dossier.version))
    if body.receive_now:
        _receive(session, dossier, definition, desk, by=who.subject, at=now, add=rows.append)
    await insert_new(session, dossier, *rows)
    return dossier


def _awaiting_reception() -> dict[str, str]:
    return {"kind": "reception", "text_vi": "Chờ cán bộ tiếp nhận kiểm tra hồ sơ.",
            "text_en": "Waiting for an officer to check and receive the dossier."}


# Officer decisions at the desk


async def _for_change(session: AsyncSession, code: str) -> Dossier:
    dossier = await DossierRepository(session).get(code, for_update=True)
    if dossier is None:
        raise DossierNotFound(f"no dossier {code}")
    return dossier


async def definition_for(session: AsyncSession, dossier: Dossier) -> ProcedureDefinition:
    """The procedure definition the dossier was submitted under."""
    repo = CatalogRepository(session)
    if dossier.procedure_version is not None:
        revision = await repo.revision(dossier.procedure_code, dossier.procedure_version)
        if revision is not None:
            return ProcedureDefinition.model_validate(revision.definition)
    procedure = await repo.procedure(dossier.procedure_code)
    if procedure is None or not procedure.definition:
        raise ProcedureNotConfigured(f"procedure {dossier.procedure_code} has no definition")
    return ProcedureDefinition.model_validate(procedure.definition)


def _receive(session: AsyncSession, dossier: Dossier, definition: ProcedureDefinition,
             desk: Desk, *, by: str | None, at: datetime,
             add: Callable[[Any], None] | None = None) -> None:
    """Receive ``dossier`` now; its timeline line and event row go to ``add`` (default:
    the session's unit of work)."""
    statutory = definition.statutory_time
    amount = statutory.for_channel(dossier.channel)
    if amount is None or statutory.unit is None:
        raise ProcedureNotConfigured(errors=[FieldError(
            field="procedure_code", code="procedure.not_configured",
            message="the procedure has no statutory time")])
    cutoff = time.fromisoformat(statutory.cutoff) if statutory.cutoff else None
    due = desk.calendar.add(at, amount, statutory.unit, cutoff=cutoff)
    used = StatutoryTime(amount=amount, unit=statutory.unit, cutoff=statutory.cutoff)
    dossier.receive(at=at, due_at=due.due_at.astimezone(UTC), statutory_time=used.model_dump(),
                    explanation={"vi": due.explain("vi"), "en": due.explain("en")}, by=by)
    add = add or session.add
    add(_history_row(dossier, "received", at, note_vi=f"Hẹn trả kết quả: {_local(due.due_at)}",
                     note_en=f"Appointment: {_local(due.due_at)}"))
    add(outbox.new_row(session, DossierReceivedV1(
        dossier_code=dossier.code, agency_code=dossier.agency_code,
        procedure_code=dossier.procedure_code, status=dossier.status, occurred_at=at,
        channel=dossier.channel, received_at=at, due_at=due.due_at, statutory_time=used,
        received_by=by, applicant_kind=dossier.applicant_kind,
        owner_ref=desk.owner_ref(dossier),
        exemptions_claimed=dossier.exemptions_claimed or [],
        fee_lines=fees.contract_lines(definition, dossier.channel, business_today(at)),
    ), province=desk.province, key=dossier.code, sequence=dossier.version))


async def receive(session: AsyncSession, code: str, desk: Desk, *,
                  by: str | None) -> Dossier:
    """Receive a submitted dossier (status 2) with its appointment date."""
    dossier = await _for_change(session, code)
    dossier.require_status((SUBMITTED,), "receive")
    definition = await definition_for(session, dossier)
    _receive(session, dossier, definition, desk, by=by, at=utcnow())
    await session.flush()
    return dossier


async def refuse(session: AsyncSession, code: str, body: DossierRefuse,
                 desk: Desk, *, by: str | None) -> Dossier:
    """Refuse reception with reasons (status 3) and record DossierRefusedV1."""
    reasons = [r.strip() for r in body.reasons]
    blank = [i for i, r in enumerate(reasons) if not r]
    if blank:
        raise ValidationFailed(errors=[FieldError(field=f"reasons.{i}", code="field.too_short",
                                                  message="a reason is not blank")
                                       for i in blank])
    dossier = await _for_change(session, code)
    now = utcnow()
    dossier.refuse(reasons, at=now, by=by)
    _history(session, dossier, "refused", now, note_vi="; ".join(reasons),
             note_en="; ".join(reasons))
    outbox.record(session, DossierRefusedV1(
        dossier_code=dossier.code, agency_code=dossier.agency_code,
        procedure_code=dossier.procedure_code, status=dossier.status, occurred_at=now,
        reasons=reasons, refused_by=by, owner_ref=desk.owner_ref(dossier),
    ), province=desk.province, key=dossier.code, sequence=dossier.version)
    await session.flush()
    return dossier


# Citizen actions


async def supplement(session: AsyncSession, code: str, body: DossierSupplement,
                     desk: Desk, who: Principal) -> Dossier:
    """Answer a supplement request with documents; the case resumes (status 4)."""
    dossier = await _for_change(session, code)
    dossier.require_status((SUPPLEMENT_REQUESTED,), "supplement")
    definition = await definition_for(session, dossier)
    components = components_of(definition, await _members(CatalogRepository(session),
                                                          definition))
    found = await _check_documents(session, body.documents, components, SUPPLEMENT_SOURCES,
                                   require_all=False, who=who,
                                   owner_ref_key=desk.owner_ref_key)
    now = utcnow()
    dossier.supplement(at=now)
    documents = _documents(dossier, body.documents, found, stage="supplement", at=now,
                           request_id=body.supplement_request_id)
    session.add_all(documents)
    _history(session, dossier, "supplemented", now,
             note_vi=f"Đã bổ sung {len(body.documents)} thành phần hồ sơ.",
             note_en=f"{len(body.documents)} component(s) supplied.")
    outbox.record(session, DossierSupplementedV1(
        dossier_code=dossier.code, agency_code=dossier.agency_code,
        procedure_code=dossier.procedure_code, status=dossier.status, occurred_at=now,
        supplement_request_id=body.supplement_request_id, document_count=len(documents),
        owner_ref=desk.owner_ref(dossier),
    ), province=desk.province, key=dossier.code, sequence=dossier.version)
    await session.flush()
    return dossier


async def withdraw(session: AsyncSession, code: str, body: DossierWithdraw,
                   desk: Desk) -> Dossier:
    """The applicant withdraws the dossier (status 7)."""
    dossier = await _for_change(session, code)
    now = utcnow()
    dossier.withdraw(body.reason, at=now)
    _history(session, dossier, "withdrawn", now)
    outbox.record(session, DossierWithdrawnV1(
        dossier_code=dossier.code, agency_code=dossier.agency_code,
        procedure_code=dossier.procedure_code, status=dossier.status, occurred_at=now,
        reason=body.reason, owner_ref=desk.owner_ref(dossier),
    ), province=desk.province, key=dossier.code, sequence=dossier.version)
    await session.flush()
    return dossier


async def rate(session: AsyncSession, code: str, body: DossierRate, desk: Desk) -> Dossier:
    """The applicant rates the service after the result (once)."""
    dossier = await _for_change(session, code)
    now = utcnow()
    dossier.rate(body.score, complaint=body.complaint, comment=body.comment, at=now)
    _history(session, dossier, "rated", now, note_vi=f"Đánh giá {body.score}/5",
             note_en=f"Rated {body.score}/5")
    outbox.record(session, DossierRatedV1(
        dossier_code=dossier.code, agency_code=dossier.agency_code,
        procedure_code=dossier.procedure_code, status=dossier.status, occurred_at=now,
        score=body.score, complaint=body.complaint, owner_ref=desk.owner_ref(dossier),
    ), province=desk.province, key=dossier.code, sequence=dossier.version)
    await session.flush()
    return dossier


# Workflow's view, mirrored for public tracking

_AWAITED_BY_STATUS = {
    5: {"kind": "supplement", "text_vi": "Bổ sung giấy tờ theo phiếu yêu cầu bổ sung, hoàn "
                                         "thiện hồ sơ.",
        "text_en": "Supply the documents listed in the supplement request."},
    6: {"kind": "payment", "text_vi": "Thực hiện nghĩa vụ tài chính (nộp phí, lệ phí, thuế).",
        "text_en": "Pay the fees, charges or taxes due."},
    9: {"kind": "collect_result", "text_vi": "Nhận kết quả giải quyết hồ sơ.",
        "text_en": "Collect the result."},
}


async def apply_case_event(session: AsyncSession, dossier_code: str, sequence: int,
                           at: datetime, *, kind: str, status: int | None = None,
                           awaited: list[dict[str, str]] | None = None,
                           due_at: datetime | None = None, note_vi: str | None = None,
                           note_en: str | None = None,
                           locked: Mapping[str, Dossier] | None = None) -> bool:
    """Mirror a workflow case event on the dossier; stale or foreign ones change nothing.

    ``locked``: the dossiers this transaction has locked already (``lock_many``) by
    code; a dossier not in it does not exist. The change is then left to the
    transaction's flush, so a batch's changes are written together.
    """
    dossier = (locked.get(dossier_code) if locked is not None else
               await DossierRepository(session).get(dossier_code, for_update=True))
    if dossier is None:
        return False
    if awaited is None and status is not None and status != dossier.status:
        awaited = [_AWAITED_BY_STATUS[status]] if status in _AWAITED_BY_STATUS else []
    status_before = dossier.status
    if not dossier.mirror_case(sequence, at=at, status=status, awaited=awaited,
                               due_at=due_at):
        return False
    if dossier.status != status_before or note_vi:
        _history(session, dossier, kind, at, note_vi=note_vi, note_en=note_en,
                 source="workflow")
    if locked is None:
        await session.flush()
    return True


async def lock_for_case_events(session: AsyncSession,
                               dossier_codes: Iterable[str]) -> dict[str, Dossier]:
    """The dossiers a batch of case events names, locked and read with one statement,
    for :func:`apply_case_event`'s ``locked``."""
    return await DossierRepository(session).lock_many(dossier_codes)


def supplement_awaited(request_id: str, items: list[str]) -> list[dict[str, str]]:
    """What a supplement request asks of the applicant, for tracking."""
    return [{"kind": "supplement", "request_id": request_id,
             "text_vi": "Bổ sung, hoàn thiện hồ sơ: " + "; ".join(items),
             "text_en": "Supply or complete: " + "; ".join(items)}]


# Reads


async def get(session: AsyncSession, code: str) -> Dossier:
    """A dossier, or DossierNotFound."""
    dossier = await DossierRepository(session).get(code)
    if dossier is None:
        raise DossierNotFound(f"no dossier {code}")
    return dossier


def _local(at: datetime) -> str:
    return f"{at.astimezone(TIMEZONE):%H:%M %d/%m/%Y}"


def _history(session: AsyncSession, dossier: Dossier, kind: str, at: datetime, *,
             note_vi: str | None = None, note_en: str | None = None,
             source: str = "intake") -> None:
    session.add(_history_row(dossier, kind, at, note_vi=note_vi, note_en=note_en,
                             source=source))


def _history_row(dossier: Dossier, kind: str, at: datetime, *, note_vi: str | None = None,
                 note_en: str | None = None, source: str = "intake") -> DossierHistory:
    """A timeline line at the dossier's current status."""
    label_vi, label_en = STATUS_LABELS.get(dossier.status, (str(dossier.status),) * 2)
    return DossierHistory(dossier_code=dossier.code, at=at, status=dossier.status, kind=kind,
                          source=source, note_vi=note_vi or label_vi,
                          note_en=note_en or label_en)
