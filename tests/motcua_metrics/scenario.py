"""A small province whose March 2026 index is worked out by hand below.

Agency A = ``000.01.17.<P>``, agency B = ``000.02.17.<P>``. Procedure P1 ``1.001193``
has no fee; P2 ``2.000477`` has a 50,000 VND fee. Office hours 07:00–11:30, 13:30–17:00;
March 2026 has no public holiday; 1 March is a Sunday. Times are +07:00.

Dossiers (received → due; what happens; settlement judged on 31/3):

* D1 — A, P1, online; 02/3 08:00 → 05/3 08:00; finished 04/3, returned 05/3, rated 5,
  digitised, reused from the national store, electronic result, population lookup →
  **early**.
* D2 — A, P1, direct; 02/3 09:00 → 05/3 09:00; finished 05/3 16:00; rated 2 (dislike)
  → **on time** (same day).
* D3 — A, P2, online; 03/3 08:00 → 06/3 08:00; paid online; finished 10/3 with an
  electronic result → **late** by 2 working days (Mon 9, Tue 10).
* D4 — A, P2, direct; 09/3 08:00 → 12/3 08:00; supplement asked Tue 10/3 08:00, given
  Wed 11/3 08:00 = 8 working hours, so due 13/3 08:00; paid at the desk; finished 13/3
  15:00 → **on time** (it would be late without the pause).
* D5 — A, P1, online; 16/3 08:00 → 19/3 08:00; two supplement requests (1 h each);
  finished 17/3 → **late** (more than one supplement request).
* D6 — A, P1, direct; 23/3 08:00 → 26/3 08:00; extended once with an apology; unfinished
  → **overdue** by 3 working days (27, 30, 31): the extension does not move the due date.
* D7 — A, P2, direct; 30/3 08:00 → 02/4 08:00; transferred to B; unfinished, not paid →
  **in process within time**.
* D8 — A, P1, direct; 25/3 08:00 → 27/3 08:00; supplement asked 26/3, never given (the
  clock is stopped) → **in process within time**.
* D9 — A, P1, online; 10/2 08:00 → 13/2 08:00; finished 03/3 → **late** (in the March
  scope because it was finished in March).
* D10 — A, P1, direct; refused at the desk 04/3 → never received: out of every scope.
* D11 — B, P1, online; 02/3 08:00 → 05/3 08:00; finished 03/3 → **early**.

Agency A, March 2026 (config 766-six-groups/2026.1):

* Settlement scope = D1–D9 = 9; good = early 1 (D1) + on time 2 (D2, D4) + within 2
  (D7, D8) = 5 → progress = 20 × 5/9 = **11.1111**.
* Received in March = D1–D8 = 8, all synced → sync 8/8 → **6** (publicity).
* Online D1, D3, D5 = 3 of 8, × sync 1 = 0.375 < 0.5 → 4 × 0.375 / 0.5 = **3.0**.
* Results in March (status 9/10): D1, D2, D3, D4, D5, D9 = 6. Electronic result D1, D3
  → 2/6 → 6 × 1/3 = **2.0**; digitised and result D1 → 1/6 < 0.8 → 4 × (1/6)/0.8 =
  **0.8333**; reuse D1 → 1/8 < 0.8 → 2 × (1/8)/0.8 = **0.3125**; data store (from the
  national store or result pushed) D1, D3 → 2/8 → 4 × 0.25 = **1.0**; population D1
  → 1/8 → 2 × 1/8 = **0.25**; procedures with population data P1 of {P1, P2} → 1/2 →
  **1.0**. Digitisation = 259/48 = **5.3958** of 20 available (certified copies n/a).
* Reception satisfaction = 1 − late 4/9 (D3, D5, D9, D6) − dislike 1/9 (D2) = 4/9 <
  0.9 → 6 × (4/9)/0.9 = 240/81 = **2.963**.
* Payment: fee dossiers D3, D4, D7; paid online D3 → A = 1/3 → 6 × 1/3 = 2; fee
  procedures {P2}, with an online payment → B = 1 → min(2, 2.5) = 2; with fee data
  synced → C = 1 → 2.5; group = **6.5** (of 10).
* Total = 6 + 100/9 + 3 + 259/48 + 240/81 + 6.5 = **34.9699** of 66 available
  (6 + 20 + 4 + 20 + 6 + 10) → **52.9847** on 100.

Agency B: D11 only → progress 20, sync 6, online 1 × 1 ≥ 0.5 → 4; no result stored → 0
of 6 electronic result, 0 digitised, reuse 0, store 0, population 0 and 0; reception
1 − 0 − 0 = 1 → 6; no fees → payment not available. Dossier items: 36 of 56.

Catalog (intake's ``ProcedurePublishedV1``; config 766-six-groups/2026.2: announced on
time = decision no later than the 5th working day before ``valid_from``; published on
time = ``published_at`` no later than the 5th working day after the decision):

* P1 v1 — A, B; published 02/2 (decision 20/1, in force 01/2); not online. v2 — A, B;
  published 02/3; decision Wed 25/2, in force Mon 9/3 → announce deadline Mon 2/3 (6, 5,
  4, 3, 2) → **on time**; publish deadline Wed 4/3 (26, 27, 2, 3, 4) → **on time**;
  online, complete.
* P2 v1 — A; published 03/3; decision Mon 2/3, in force Thu 5/3 → announce deadline Thu
  26/2 (4, 3, 2, 27, 26) → **late** by 2 working days (27/2, 2/3); publish deadline 9/3 →
  on time; online, fees, **mandatory content missing** ("mau_to_khai").
* P3 v1 (``1.004227``) — A; published Tue 10/3; decision Fri 27/2, in force Mon 16/3 →
  announce deadline 9/3 → on time; publish deadline Fri 6/3 → **late** by 2 (9, 10);
  online, complete, but **no online dossier** in March.
* P4 v1 (``2.001234``) — A; published 16/3 with no decision date → **not judged** by
  either timeliness item; not online; complete.
* P5 v1 (``1.009999``) — A; published Wed 4/3; decision Tue 24/2, in force 4/3 →
  announce deadline Wed 25/2 → on time; publish deadline Tue 3/3 → **late** by 1. v2
  **withdraws** it on 20/3, so it is not in A's catalog on 31/3.

Agency A, March 2026, catalog items:

* Announced on time: P1, P3, P5 of {P1, P2, P3, P5} (P4 not judged) = 3/4 → 6 × 0.75 =
  **4.5**; published on time: P1, P2 of 4 = 1/2 → 4 × 0.5 = **2.0**.
* Catalog on 31/3 = {P1, P2, P3, P4}: complete 3/4 → 2 × 0.75 = **1.5**; online
  {P1, P2, P3} = 3/4 < 0.8 → 4 × 0.75 / 0.8 = **3.75**; online with an online dossier
  received in March: P1 (D1, D5), P2 (D3), not P3 → 2/3 → 4 × 2/3 = **2.6667**.
* Publicity = 4.5 + 2 + 1.5 + 6 = **14**; online = 3.75 + 8/3 + 3 = **9.4167**; total =
  14 + 100/9 + 113/12 + 259/48 + 240/81 + 6.5 = **49.3866** of 86 available → **57.4262**.

Agency B: P1 only (on time, complete, online, D11 online) → 6 + 4 + 2 + 4 + 4 more:
**56** of 76 → 73.6842.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from motcua.contracts import identity, intake, payments, workflow
from motcua.events import EventData

TZ = timezone(timedelta(hours=7))
P1, P2 = "1.001193", "2.000477"
P3, P4, P5 = "1.004227", "2.001234", "1.009999"


def at(day: str, clock: str = "08:00") -> datetime:
    """A +07:00 instant in 2026 from ``"03-02"`` and ``"08:00"``."""
    return datetime.fromisoformat(f"2026-{day}T{clock}:00+07:00")


@dataclass
class Event:
    """One event of the scenario: its payload, aggregate key and producer sequence."""

    data: EventData
    key: str
    sequence: int | None


class Builder:
    """Builds the events of one dossier with the producers' sequences."""

    def __init__(self, province: str) -> None:
        self.province = province
        self.events: list[Event] = []
        self._seq: dict[tuple[str, str], int] = {}

    def code(self, agency: str, n: int) -> str:
        return f"000.0{agency}.17.{self.province}-2603{n:02d}-0001"

    def agency(self, agency: str) -> str:
        return f"000.0{agency}.17.{self.province}"

    def _add(self, data: EventData, key: str, producer: str) -> None:
        seq = self._seq.get((producer, key), 0) + 1
        self._seq[(producer, key)] = seq
        self.events.append(Event(data, key, seq))

    def dossier(self, n: int, agency: str, procedure: str, channel: str, received: datetime,
                due: datetime, *, fee: bool = False) -> str:
        code = self.code(agency, n)
        common = {"dossier_code": code, "agency_code": self.agency(agency),
                  "procedure_code": procedure}
        self._add(intake.DossierSubmittedV1(**common, status=1, occurred_at=received,
                                            channel=channel, applicant_kind="individual"),
                  code, "intake")
        lines = [intake.FeeLine(code="LP01", kind="fee", label_vi="Lệ phí", amount_vnd=50_000,
                                collect="before")] if fee else []
        self._add(intake.DossierReceivedV1(
            **common, status=2, occurred_at=received, channel=channel, received_at=received,
            due_at=due, statutory_time=intake.StatutoryTime(amount=3, unit="working_days"),
            fee_lines=lines), code, "intake")
        self._add(workflow.CaseStartedV1(case_id=f"case-{code}", dossier_code=code,
                                         agency_code=self.agency(agency),
                                         occurred_at=received, procedure_code=procedure),
                  code, "workflow")
        self._seq[("workflow", code)] -= 1  # case.started and the first status share version 1
        self.status(code, 4, received + timedelta(minutes=5))
        return code

    def status(self, code: str, status: int, when: datetime) -> None:
        agency = code.split("-")[0]
        self._add(workflow.CaseStatusChangedV1(case_id=f"case-{code}", dossier_code=code,
                                               agency_code=agency, occurred_at=when,
                                               status=status), code, "workflow")

    def intake(self, cls: type[EventData], code: str, status: int, when: datetime,
               procedure: str = P1, **extra: Any) -> None:
        self._add(cls(dossier_code=code, agency_code=code.split("-")[0], procedure_code=procedure,
                      status=status, occurred_at=when, **extra), code, "intake")

    def identity(self, data: EventData, code: str) -> None:
        self.events.append(Event(data, code, None))

    def workflow(self, cls: type[EventData], code: str, when: datetime, **extra: Any) -> None:
        self._add(cls(case_id=f"case-{code}", dossier_code=code, agency_code=code.split("-")[0],
                      occurred_at=when, **extra), code, "workflow")

    def payment(self, data: EventData, code: str) -> None:
        self._add(data, code, "payments")

    def procedure(self, code: str, version: int, agencies: str, when: datetime, *,
                  decision: str | None, valid_from: str | None, online: bool,
                  status: str = "published", published: datetime | None = None,
                  fees: bool = False, missing: tuple[str, ...] = ()) -> None:
        """A catalog publication (``sequence`` = the procedure's version)."""
        self.events.append(Event(procedure_published(
            self.province, code, version, agencies, when, decision=decision,
            valid_from=valid_from, online=online, status=status, published=published,
            fees=fees, missing=missing), code, version))


def procedure_published(province: str, code: str, version: int, agencies: str,
                        when: datetime, *, decision: str | None, valid_from: str | None,
                        online: bool, status: str = "published",
                        published: datetime | None = None, fees: bool = False,
                        missing: tuple[str, ...] = ()) -> intake.ProcedurePublishedV1:
    """``ProcedurePublishedV1`` for agencies ``"12"`` = A and B (dates ``"03-02"``)."""
    return intake.ProcedurePublishedV1(
        procedure_code=code, procedure_version=version, status=status,
        name_vi=f"Thủ tục {code}", level="commune",
        agencies=[f"000.0{a}.17.{province}" for a in agencies],
        decision_date=date.fromisoformat(f"2026-{decision}") if decision else None,
        valid_from=date.fromisoformat(f"2026-{valid_from}") if valid_from else None,
        published_at=published or when, online=online, has_fees=fees,
        missing_content=list(missing), occurred_at=when)


def build(province: str) -> list[Event]:
    """Every event of the scenario, in a natural order."""
    b = Builder(province)
    d1 = b.dossier(1, "1", P1, "online", at("03-02"), at("03-05"))
    b.status(d1, 9, at("03-04", "10:00"))
    b.status(d1, 10, at("03-05", "09:00"))
    b.workflow(workflow.CaseResultReturnedV1, d1, at("03-05", "09:00"),
               returned_at=at("03-05", "09:00"), channel="online")
    b.intake(intake.DossierRatedV1, d1, 10, at("03-05", "09:30"), score=5)
    b.identity(identity.DocumentStoredV1(
        document_id="doc-d1-in", document_type="CCCD", issuing_agency="BCA", source="digitised",
        dossier_code=d1, content_sha256="0" * 64, stored_at=at("03-02", "08:10")), d1)
    b.identity(identity.DocumentReusedV1(
        document_id="doc-d1-kq", document_type="GKS", issuing_agency="UBND", reuse_id="r1",
        dossier_code=d1, component_code="TP01", reused=True, from_national_store=True,
        reused_at=at("03-02", "08:05")), d1)
    b.identity(identity.DocumentStoredV1(
        document_id="kq-d1", document_type="GKS", issuing_agency="UBND", source="result",
        dossier_code=d1, content_sha256="1" * 64, stored_at=at("03-04", "10:05")), d1)
    b.identity(identity.PopulationLookedUpV1(
        lookup_id="lk1", purpose="reception", dossier_code=d1, actor_kind="officer",
        found=True, looked_up_at=at("03-02", "08:02")), d1)

    d2 = b.dossier(2, "1", P1, "direct", at("03-02", "09:00"), at("03-05", "09:00"))
    b.workflow(workflow.CaseHandedOverV1, d2, at("03-02", "10:00"), action="forward",
               from_step="tiep_nhan", to_step="tham_dinh", actor_id="cb-01",
               actor_role="chuyen_vien", actor_agency_code=b.agency("1"))
    b.status(d2, 9, at("03-05", "16:00"))
    b.intake(intake.DossierRatedV1, d2, 9, at("03-06", "09:00"), score=2)

    d3 = b.dossier(3, "1", P2, "online", at("03-03"), at("03-06"), fee=True)
    b.payment(payments.FeeAssessedV1(
        assessment_id="as3", dossier_code=d3, agency_code=b.agency("1"), procedure_code=P2,
        occurred_at=at("03-03", "08:01"), total_vnd=50_000, exempted_vnd=0, payable_vnd=50_000,
        collect="before", pay_before_processing=False,
        lines=[payments.AssessedLine(code="LP01", kind="fee", label_vi="Lệ phí",
                                     amount_vnd=50_000, payable_vnd=50_000, collect="before")]),
        d3)
    b.payment(payments.PaymentSettledV1(
        payment_id="pay3", reference="REF3", dossier_code=d3, agency_code=b.agency("1"),
        amount_vnd=50_000, occurred_at=at("03-03", "09:00"), method="gateway",
        paid_online=True, online_payment_code=1, receipt_id="rc3", receipt_number="0000003",
        settled_via="callback"), d3)
    b.status(d3, 9, at("03-10", "10:00"))
    b.workflow(workflow.CaseCompletedV1, d3, at("03-10", "10:00"), procedure_code=P2,
               finished_at=at("03-10", "10:00"), due_at=at("03-06"), classification="late",
               result=workflow.ResultDocument(name="GP.pdf", media_type="application/pdf",
                                              sha256="3" * 64))
    b.identity(identity.DocumentStoredV1(
        document_id="kq-d3", document_type="GP", issuing_agency="SXD", source="result",
        dossier_code=d3, content_sha256="3" * 64, stored_at=at("03-10", "10:05")), d3)

    d4 = b.dossier(4, "1", P2, "direct", at("03-09"), at("03-12"), fee=True)
    b.status(d4, 5, at("03-10"))
    b.workflow(workflow.CaseSupplementRequestedV1, d4, at("03-10"), request_id="rq4",
               items=["CCCD"], request_count=1)
    b.intake(intake.DossierSupplementedV1, d4, 4, at("03-11"), procedure=P2)
    b.status(d4, 4, at("03-11"))
    b.payment(payments.PaymentSettledV1(
        payment_id="pay4", reference="REF4", dossier_code=d4, agency_code=b.agency("1"),
        amount_vnd=50_000, occurred_at=at("03-09", "08:30"), method="cash", paid_online=False,
        online_payment_code=0, receipt_id="rc4", receipt_number="0000004",
        settled_via="counter"), d4)
    b.status(d4, 9, at("03-13", "15:00"))

    d5 = b.dossier(5, "1", P1, "online", at("03-16"), at("03-19"))
    b.status(d5, 5, at("03-16", "09:00"))
    b.workflow(workflow.CaseSupplementRequestedV1, d5, at("03-16", "09:00"), request_id="rq5a",
               items=["CCCD"], request_count=1)
    b.status(d5, 4, at("03-16", "10:00"))
    b.status(d5, 5, at("03-16", "14:00"))
    b.workflow(workflow.CaseSupplementRequestedV1, d5, at("03-16", "14:00"), request_id="rq5b",
               items=["GKS"], request_count=2)
    b.status(d5, 4, at("03-16", "15:00"))
    b.status(d5, 9, at("03-17", "10:00"))

    d6 = b.dossier(6, "1", P1, "direct", at("03-23"), at("03-26"))
    b.workflow(workflow.CaseExtendedV1, d6, at("03-25"), apology_id="ap6",
               original_due_at=at("03-26"), new_due_at=at("04-02"), reason="xác minh",
               notice_in_time=True)
    d7 = b.dossier(7, "1", P2, "direct", at("03-30"), at("04-02"), fee=True)
    b.workflow(workflow.CaseTransferredV1, d7, at("03-30", "09:00"),
               from_agency_code=b.agency("1"), to_agency_code=b.agency("2"), leg=1,
               acknowledge_by=at("03-30", "11:00"))
    d8 = b.dossier(8, "1", P1, "direct", at("03-25"), at("03-27"))
    b.status(d8, 5, at("03-26"))

    d9 = b.dossier(9, "1", P1, "online", at("02-10"), at("02-13"))
    b.status(d9, 9, at("03-03", "10:00"))

    d10 = b.code("1", 10)
    b.intake(intake.DossierSubmittedV1, d10, 1, at("03-04"), channel="direct",
             applicant_kind="individual")
    b.intake(intake.DossierRefusedV1, d10, 3, at("03-04", "08:20"), reasons=["thiếu giấy tờ"])

    d11 = b.dossier(11, "2", P1, "online", at("03-02"), at("03-05"))
    b.status(d11, 9, at("03-03", "10:00"))

    b.procedure(P1, 1, "12", at("02-02", "09:00"), decision="01-20", valid_from="02-01",
                online=False)
    b.procedure(P1, 2, "12", at("03-02", "07:30"), decision="02-25", valid_from="03-09",
                online=True)
    b.procedure(P2, 1, "1", at("03-03", "07:30"), decision="03-02", valid_from="03-05",
                online=True, fees=True, missing=("mau_to_khai",))
    b.procedure(P3, 1, "1", at("03-10", "10:00"), decision="02-27", valid_from="03-16",
                online=True)
    b.procedure(P4, 1, "1", at("03-16", "09:00"), decision=None, valid_from="04-01",
                online=False)
    b.procedure(P5, 1, "1", at("03-04", "09:00"), decision="02-24", valid_from="03-04",
                online=True)
    b.procedure(P5, 2, "1", at("03-20", "09:00"), decision="02-24", valid_from="03-04",
                online=True, status="withdrawn", published=at("03-04", "09:00"))
    return b.events


#: Agency A, March 2026: item → (ratio, points), worked out in the module docstring.
EXPECTED_A = {
    "publicity.published_on_time": (0.75, 4.5),
    "publicity.database_on_time": (0.5, 2.0),
    "publicity.full_content": (0.75, 1.5),
    "publicity.dossiers_synced": (1.0, 6.0),
    "progress.settlement": (5 / 9, 100 / 9),
    "online.procedures_online": (0.75, 3.75),
    "online.procedures_with_online_dossiers": (2 / 3, 8 / 3),
    "online.online_dossiers": (0.375, 3.0),
    "digitisation.electronic_result": (1 / 3, 2.0),
    "digitisation.digitised_dossier_and_result": (1 / 6, 5 / 6),
    "digitisation.reuse": (1 / 8, 0.3125),
    "digitisation.national_store": (0.25, 1.0),
    "digitisation.population_data": (1 / 8, 0.25),
    "digitisation.population_data_procedures": (0.5, 1.0),
    "satisfaction.reception": (4 / 9, 240 / 81),
    "payment.dossiers_paid_online": (1 / 3, 2.0),
    "payment.procedures_paid_online": (1.0, 2.0),
    "payment.fee_data_synced": (1.0, 2.5),
}
NOT_AVAILABLE = {
    "digitisation.certified_copies", "satisfaction.feedback_on_time",
    "satisfaction.feedback_satisfaction",
}
EXPECTED_A_GROUPS = {"publicity": 14.0, "progress": 100 / 9, "online": 113 / 12,
                     "digitisation": 259 / 48, "satisfaction": 240 / 81, "payment": 6.5}
EXPECTED_A_TOTAL = 14 + 100 / 9 + 113 / 12 + 259 / 48 + 240 / 81 + 6.5
EXPECTED_A_MAX_AVAILABLE = 86.0
#: Without the catalog (configuration 766-six-groups/2026.1): the dossier items only.
EXPECTED_A_V1_TOTAL = 6 + 100 / 9 + 3 + 259 / 48 + 240 / 81 + 6.5
EXPECTED_A_V1_MAX_AVAILABLE = 66.0
EXPECTED_B_TOTAL = 56.0
EXPECTED_B_MAX_AVAILABLE = 76.0
#: Agency A, March 2026: the procedures that cost each catalog item points, and why.
EXPECTED_A_CATALOG_DRILL = {
    "publicity.published_on_time": {P2: "announced_late"},
    "publicity.database_on_time": {P3: "published_late", P5: "published_late"},
    "publicity.full_content": {P2: "missing_content"},
    "online.procedures_online": {P4: "not_online"},
    "online.procedures_with_online_dossiers": {P3: "no_online_dossiers"},
}
