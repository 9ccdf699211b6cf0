"""Request and response bodies of the payments API (one module: the shapes are small)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Vnd = Annotated[int, Field(strict=True, gt=0, le=10**13, description="Whole VND")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaymentRequest(_Body):
    """Ask to pay a dossier's outstanding fees online."""

    dossier_code: str = Field(min_length=1, max_length=60)
    amount_vnd: Vnd | None = Field(None, description="If given, must equal what is outstanding")
    payer_name: str | None = Field(None, max_length=255)
    return_url: str | None = Field(None, max_length=1000, pattern=r"^https?://",
                                   description="Where the citizen's browser returns")


class CounterPayment(_Body):
    """An officer took the fees at the desk (the officer is the token's subject)."""

    dossier_code: str = Field(min_length=1, max_length=60)
    method: Literal["cash", "transfer"]
    amount_vnd: Vnd
    payer_name: str | None = Field(None, max_length=255)
    transfer_reference: str | None = Field(None, max_length=100)


class Cancellation(_Body):
    """Cancel, with the reason (who cancels is the token's subject)."""

    reason: str = Field(min_length=1, max_length=500)


class ReceiptCancellation(Cancellation):
    """Cancel a receipt; ``replace`` issues a corrected one with a new number."""

    replace: bool = False


class RefundCompletion(_Body):
    """An officer paid a refund back (the officer is the token's subject)."""

    method: Literal["cash", "transfer"]
    transfer_reference: str | None = Field(None, max_length=100)
    payee_name: str | None = Field(None, max_length=255)


class StatementReconciliation(_Body):
    """Reconcile a business day's statement now."""

    date: date
    rerun: bool = False


class EarlyReconciliation(_Body):
    """QUERY pending payments now."""

    older_than_s: float = Field(0, ge=0)


class AssessmentLineRead(BaseModel):
    """A fee line."""

    model_config = ConfigDict(from_attributes=True)
    code: str
    kind: str
    label_vi: str
    amount_vnd: int | None
    payable_vnd: int
    collect: str
    exemption: str | None


class AssessmentRead(BaseModel):
    """A dossier's fee assessment and what has been paid."""

    dossier_code: str
    agency_code: str
    procedure_code: str
    status: str
    collect: str
    pay_before_processing: bool
    total_vnd: int
    exempted_vnd: int
    payable_vnd: int
    settled_vnd: int
    refunded_vnd: int
    released_vnd: int
    outstanding_vnd: int
    unpriced_lines: int
    paid_online: bool
    exemptions_claimed: list[str]
    exemptions_applied: list[str]
    lines: list[AssessmentLineRead]
    assessed_at: datetime
    version: int

    @classmethod
    def of(cls, a: Any, lines: list[Any]) -> AssessmentRead:
        """Build from the ORM rows."""
        return cls(dossier_code=a.dossier_code, agency_code=a.agency_code,
                   procedure_code=a.procedure_code, status=a.status, collect=a.collect,
                   pay_before_processing=a.pay_before_processing, total_vnd=a.total_vnd,
                   exempted_vnd=a.exempted_vnd, payable_vnd=a.payable_vnd,
                   settled_vnd=a.settled_vnd, refunded_vnd=a.refunded_vnd,
                   released_vnd=a.released_vnd, outstanding_vnd=a.outstanding_vnd,
                   unpriced_lines=a.unpriced_lines, paid_online=a.paid_online,
                   exemptions_claimed=a.exemptions_claimed,
                   exemptions_applied=a.exemptions_applied,
                   lines=[AssessmentLineRead.model_validate(x) for x in lines],
                   assessed_at=a.assessed_at, version=a.version)


class PaymentRead(BaseModel):
    """A payment."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    reference: str
    dossier_code: str
    agency_code: str
    method: str
    online: bool
    amount_vnd: int
    status: str
    payment_url: str | None
    gateway_transaction_id: str | None
    paid_at: datetime | None
    settled_at: datetime | None
    settled_via: str | None
    result_code: str | None
    anomaly: str | None
    requested_at: datetime


class ReceiptRead(BaseModel):
    """An electronic receipt."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    agency_code: str
    template: str
    symbol: str
    number_text: str
    year: int
    payment_id: str | None
    refund_id: str | None
    dossier_code: str
    amount_vnd: int
    method: str
    reference: str | None
    gateway_transaction_id: str | None
    issued_at: datetime
    status: str
    cancel_reason: str | None
    cancelled_by: str | None
    cancelled_at: datetime | None
    replaces_id: str | None
    replaced_by_id: str | None
    verification_code: str


class ReceiptVerification(BaseModel):
    """What anyone holding a printed receipt may check (the QR code): no dossier, payer,
    payment or person, only what is printed and whether it still stands."""

    model_config = ConfigDict(from_attributes=True)
    kind: str
    agency_code: str
    template: str
    symbol: str
    number_text: str
    amount_vnd: int
    issued_at: datetime
    status: str
    cancelled_at: datetime | None


class CounterPaymentRead(BaseModel):
    """The settled counter payment and its receipt."""

    payment: PaymentRead
    receipt: ReceiptRead


class ReceiptCancellationRead(BaseModel):
    """The cancelled receipt and its replacement, if any."""

    cancelled: ReceiptRead
    replacement: ReceiptRead | None


class RefundRead(BaseModel):
    """A refund."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    dossier_code: str
    payment_id: str
    amount_vnd: int
    reason: str
    status: str
    method: str | None
    requested_at: datetime
    completed_at: datetime | None
    completed_by: str | None


class RefundCompletionRead(BaseModel):
    """The completed refund and its receipt."""

    refund: RefundRead
    receipt: ReceiptRead


class CallbackRead(BaseModel):
    """A recorded gateway notification."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    received_at: datetime
    channel: str
    reference: str | None
    transaction_id: str | None
    amount_vnd: int | None
    result_code: str | None
    outcome: str
    detail: str | None


class ReconciliationItemRead(BaseModel):
    """One finding."""

    model_config = ConfigDict(from_attributes=True)
    category: str
    reference: str
    payment_id: str | None
    our_transaction_id: str | None
    their_transaction_id: str | None
    our_amount_vnd: int | None
    their_amount_vnd: int | None
    detail: str | None


class ReconciliationRead(BaseModel):
    """A day's statement reconciliation report."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    partner_code: str
    statement_date: str
    status: str
    attempts: int
    started_at: datetime
    finished_at: datetime | None
    matched: int
    missing_ours: int
    missing_theirs: int
    mismatched: int
    error: str | None
    items: list[ReconciliationItemRead] = []
