"""Problems the payments endpoints answer (stable codes)."""

from motcua.errors import Conflict, NotFound, Problem, Unprocessable
from motcua_payments.gateway.adapter import GatewayError
from motcua_payments.gateway.guarded import GatewayShed


class AssessmentNotFound(NotFound):
    code = "assessment.not_found"
    title = "No fee assessment for this dossier"


class NothingToPay(Conflict):
    code = "assessment.nothing_to_pay"
    title = "Nothing is outstanding for this dossier"


class PaymentNotFound(NotFound):
    code = "payment.not_found"
    title = "Payment not found"


class PaymentAlreadyPending(Conflict):
    code = "payment.already_pending"
    title = "An online payment for this dossier is already pending"


class PaymentAmountMismatch(Unprocessable):
    code = "payment.amount_mismatch"
    title = "Amount differs from what is outstanding"


class PaymentNotCancellable(Conflict):
    code = "payment.not_cancellable"
    title = "Only a pending payment can be cancelled"


class GatewayUnavailable(Problem):
    status = 502
    code = "gateway.unavailable"
    title = "The payment gateway did not answer"


class GatewayRejected(Problem):
    status = 502
    code = "gateway.rejected"
    title = "The payment gateway refused the request"


class GatewayBusy(Problem):
    status = 503
    code = "gateway.busy"
    title = "Every call payments makes at once to the payment gateway is in progress"


class GatewayPaused(Problem):
    status = 503
    code = "gateway.paused"
    title = "Calls to the payment gateway are paused after repeated failures"


#: What a route that calls the gateway may answer about it.
GATEWAY_PROBLEMS = (GatewayUnavailable, GatewayRejected, GatewayBusy, GatewayPaused)


def gateway_problem(exc: GatewayError) -> Problem:
    """The problem a failed gateway command is answered with: 503 with Retry-After when
    the guard refused it (nothing was sent; ``motcua_payments.gateway.guarded``), 502
    ``gateway.rejected`` when the platform refused it, else 502 ``gateway.unavailable``."""
    if isinstance(exc, GatewayShed):
        return exc.refused.problem(GatewayBusy, GatewayPaused, nothing_done="Nothing was sent")
    return (GatewayRejected if exc.rejected else GatewayUnavailable)(str(exc))


class CallbackMalformed(Problem):
    status = 400
    code = "callback.malformed"
    title = "Callback is not a valid gateway message"


class CallbackChecksumInvalid(Problem):
    status = 403
    code = "callback.checksum_invalid"
    title = "Callback checksum (MaXacThuc) does not verify"


class CallbackUnknownReference(NotFound):
    code = "callback.unknown_reference"
    title = "No payment has this reference (MaThamChieu)"


class CallbackAmountMismatch(Unprocessable):
    code = "callback.amount_mismatch"
    title = "Callback amount differs from the payment"


class CallbackUnconfirmed(Conflict):
    code = "callback.unconfirmed"
    title = "The gateway's QUERY does not confirm this callback"


class ReceiptNotFound(NotFound):
    code = "receipt.not_found"
    title = "Receipt not found"


class ReceiptAlreadyCancelled(Conflict):
    code = "receipt.already_cancelled"
    title = "Receipt is already cancelled"


class RefundNotFound(NotFound):
    code = "refund.not_found"
    title = "Refund not found"


class RefundNotPending(Conflict):
    code = "refund.not_pending"
    title = "Refund is not pending"


class ReconciliationNotFound(NotFound):
    code = "reconciliation.not_found"
    title = "No reconciliation for this day"


class ReconciliationInProgress(Conflict):
    code = "reconciliation.in_progress"
    title = "This day is being reconciled by another worker"
