"""Events published by payments (fees, payments, receipts, refunds, reconciliation).

Within version 1 changes are additive only. Amounts are whole VND (``*_vnd``).

How workflow uses them (status 6, domain.md §4): a :class:`FeeAssessedV1` with
``pay_before_processing`` true means the dossier waits in status 6 ("yêu cầu thực hiện
nghĩa vụ tài chính") until :class:`AssessmentSettledV1` arrives for the same dossier.
Events about one dossier's assessment carry the assessment version as the envelope
``sequence`` (subject key = dossier code), so a consumer can ignore stale ones.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from motcua.events import EventData

Collect = Literal["before", "after", "none"]
Method = Literal["gateway", "cash", "transfer"]


class AssessedLine(BaseModel):
    """One fee line as assessed for the dossier (after exemptions)."""

    code: str
    kind: Literal["fee", "charge"]
    label_vi: str
    amount_vnd: int | None
    payable_vnd: int
    collect: Literal["before", "after", "waived"]
    exemption: str | None = None


class _AssessmentEvent(EventData):
    service = "payments"
    aggregate = "assessment"

    assessment_id: str
    dossier_code: str
    agency_code: str
    occurred_at: datetime


class FeeAssessedV1(_AssessmentEvent):
    """Fees of a received dossier were assessed (thẩm định phí, lệ phí).

    ``collect`` is ``before`` when something must be paid before processing, ``after``
    when it is collected with the result, ``none`` when nothing is payable (waived or
    exempt). ``pay_before_processing`` = the dossier must wait in status 6.
    """

    event = "assessed"
    procedure_code: str
    total_vnd: int
    exempted_vnd: int
    payable_vnd: int
    collect: Collect
    pay_before_processing: bool
    exemptions_applied: list[str] = []
    lines: list[AssessedLine] = []


class AssessmentSettledV1(_AssessmentEvent):
    """Everything payable for the dossier is paid: a status-6 dossier may go on."""

    event = "settled"
    payable_vnd: int
    settled_vnd: int
    #: DuocThanhToanTrucTuyen: 1 when any of it was paid online through the platform, else 0.
    paid_online: bool


class AssessmentReleasedV1(_AssessmentEvent):
    """The fee is no longer due because the dossier was withdrawn or refused."""

    event = "released"
    reason: Literal["withdrawn", "refused"]
    released_vnd: int
    refund_due_vnd: int


class _PaymentEvent(EventData):
    service = "payments"
    aggregate = "payment"

    payment_id: str
    reference: str  # MaThamChieu
    dossier_code: str
    agency_code: str
    amount_vnd: int
    occurred_at: datetime


class PaymentRequestedV1(_PaymentEvent):
    """An online payment was initiated at the gateway (INIT); the citizen got a URL."""

    event = "requested"


class PaymentSettledV1(_PaymentEvent):
    """Money was received, exactly once per payment, with its receipt.

    ``paid_online`` is true only for payments through the national payment platform
    (DuocThanhToanTrucTuyen = ``online_payment_code``: 1 platform, 0 counter); cash and
    bank transfer at the desk are never online.
    """

    event = "settled"
    method: Method
    paid_online: bool
    online_payment_code: Literal[0, 1, 2]
    gateway_transaction_id: str | None = None
    receipt_id: str
    receipt_number: str
    settled_via: Literal["callback", "return", "reconciliation", "counter"]


class PaymentFailedV1(_PaymentEvent):
    """The gateway reported the payment failed, or it expired unpaid."""

    event = "failed"
    result_code: str | None = None
    reason: str


class PaymentCancelledV1(_PaymentEvent):
    """A pending payment request was cancelled before it was paid."""

    event = "cancelled"
    reason: str
    actor: str | None = None


class PaymentRefundedV1(_PaymentEvent):
    """Money was paid back (after withdrawal, refusal or an overpayment), with a receipt.

    ``amount_vnd`` is the refunded amount; ``payment_id``/``reference`` name the payment
    refunded.
    """

    event = "refunded"
    refund_id: str
    reason: Literal["withdrawn", "refused", "overpayment", "manual"]
    method: Method
    receipt_id: str
    receipt_number: str


class RefundRequestedV1(EventData):
    """A refund is owed and waits for an officer to pay it back."""

    service = "payments"
    aggregate = "refund"
    event = "requested"

    refund_id: str
    dossier_code: str
    agency_code: str
    amount_vnd: int
    reason: Literal["withdrawn", "refused", "overpayment", "manual"]
    occurred_at: datetime


class _ReceiptEvent(EventData):
    service = "payments"
    aggregate = "receipt"

    receipt_id: str
    kind: Literal["payment", "refund"]
    agency_code: str
    dossier_code: str
    symbol: str
    number: str
    amount_vnd: int
    occurred_at: datetime


class ReceiptIssuedV1(_ReceiptEvent):
    """An electronic receipt (biên lai điện tử) was issued."""

    event = "issued"
    replaces_id: str | None = None


class ReceiptCancelledV1(_ReceiptEvent):
    """A receipt was cancelled, with the reason (and its replacement, if any)."""

    event = "cancelled"
    reason: str
    actor: str
    replaced_by_id: str | None = None


class ReconciliationCompletedV1(EventData):
    """A daily statement was reconciled (counts of each category)."""

    service = "payments"
    aggregate = "reconciliation"
    event = "completed"

    run_id: str
    partner_code: str
    statement_date: str  # yyyyMMdd, business day
    matched: int
    missing_ours: int
    missing_theirs: int
    mismatched: int
    occurred_at: datetime
