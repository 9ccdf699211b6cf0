"""HTTP entry points for payments and gateway notifications."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.auth import PUBLIC, AgencyForbidden, NotAllowed, Principal, require
from motcua.errors import problems
from motcua.idempotency import IdempotencyDep, IdempotencyKeyReused
from motcua.pagination import OffsetQuery
from motcua.service import ANY_QUERY, RuntimeDep, SessionDep, request_transaction
from motcua_payments import access
from motcua_payments.context import ContextDep, PaymentsContext
from motcua_payments.errors import (
    GATEWAY_PROBLEMS,
    AssessmentNotFound,
    CallbackAmountMismatch,
    CallbackChecksumInvalid,
    CallbackMalformed,
    CallbackUnconfirmed,
    CallbackUnknownReference,
    GatewayBusy,
    GatewayPaused,
    GatewayUnavailable,
    NothingToPay,
    PaymentAlreadyPending,
    PaymentAmountMismatch,
    PaymentNotCancellable,
    PaymentNotFound,
    gateway_problem,
)
from motcua_payments.gateway.adapter import GatewayError
from motcua_payments.payments import callbacks, service
from motcua_payments.payments.models import Payment
from motcua_payments.schemas import (
    CallbackRead,
    Cancellation,
    CounterPayment,
    CounterPaymentRead,
    PaymentRead,
    PaymentRequest,
    ReceiptRead,
)

router = APIRouter(tags=["payments"])

#: Reading a dossier's payments: its owner, officers of its agency, reader services.
Reader = Annotated[Principal, require(scopes=[access.READ])]
#: The desk's roles that may cancel a pending online payment request.
CANCELLERS = ("receptionist", "agency_admin")


def _no_assessment(dossier_code: str) -> AssessmentNotFound:
    return AssessmentNotFound(f"no fee assessment for dossier {dossier_code}")


async def _payment(session: AsyncSession, ctx: PaymentsContext, who: Principal,
                   reference: str, *roles: str) -> None:
    """Let ``who`` at a payment (as :func:`access.ensure`); 404 as unknown otherwise."""
    access.ensure(who, ctx, await access.dossier_of(session, Payment,
                                                    Payment.reference == reference),
                  hidden=lambda: PaymentNotFound(f"no payment {reference}"), roles=roles)


@router.post("/v1/payments", status_code=status.HTTP_201_CREATED, operation_id="requestPayment",
             response_model=PaymentRead,
             responses=problems(AssessmentNotFound, NothingToPay, PaymentAlreadyPending,
                                PaymentAmountMismatch, *GATEWAY_PROBLEMS,
                                IdempotencyKeyReused, NotAllowed, AgencyForbidden))
async def request_payment(
    body: PaymentRequest, request: Request, rt: RuntimeDep, ctx: ContextDep,
    idem: IdempotencyDep,
    who: Annotated[Principal, require(kind=["citizen", "officer"], roles=["receptionist"])],
) -> PaymentRead | JSONResponse:
    """Start an online payment of what a dossier owes; answers the gateway's payment URL.

    The owner citizen, or a receptionist of the dossier's agency on the citizen's behalf
    (the citizen then opens the payment URL, e.g. as a QR code at the desk). Another
    citizen gets the 404 of an unknown dossier. Send an ``Idempotency-Key`` to retry safely.

    Three steps, so that no transaction is open while the platform is waited for: the
    payment is written (unsent), INIT is sent, its URL and event are recorded. If a step
    fails the unsent payment is discarded (docs/payments.md, "No transaction waits for
    the platform").
    """
    async with request_transaction(rt.sessions) as session:
        access.ensure(who, ctx, await access.dossier(session, body.dossier_code),
                      hidden=lambda: _no_assessment(body.dossier_code), roles=("receptionist",))
        if (replayed := await idem.replay(session)) is not None:
            return replayed
        unsent = await service.start_online(
            session, ctx, dossier_code=body.dossier_code, amount_vnd=body.amount_vnd,
            payer_name=body.payer_name, actor=who.subject)
        order = service.init_order(ctx, unsent, return_url=body.return_url,
                                   client_ip=request.client.host if request.client
                                   else "127.0.0.1")
        payment_id, dossier_code = unsent.id, unsent.dossier_code
    try:
        await ctx.fault("payment.unsent")
        url = await service.send_init(ctx, order)
        await ctx.fault("payment.initiated")
        async with request_transaction(rt.sessions) as session:
            payment = await service.confirm_online(session, ctx, payment_id=payment_id,
                                                   dossier_code=dossier_code, payment_url=url)
            await ctx.fault("payment.confirming")
            result = PaymentRead.model_validate(payment)
            idem.remember(session, status.HTTP_201_CREATED, result)
    except BaseException:
        # Not confirmed (or not known to be): free the dossier's slot now rather than
        # after payment_init_grace_s; a no-op if the confirmation did commit.
        await service.discard_unsent(rt.sessions, payment_id)
        raise
    return result


@router.get("/v1/payments", operation_id="listPayments", responses=problems(AgencyForbidden))
async def list_payments(dossier_code: Annotated[str, Query(min_length=1, max_length=60)],
                        session: SessionDep, ctx: ContextDep, who: Reader) -> list[PaymentRead]:
    """The payments of a dossier, oldest first: to its owner (anyone else's dossier, like an
    unknown one, has none), officers of its agency, reader services."""
    if not access.may_list(who, ctx, await access.dossier(session, dossier_code)):
        return []
    return [PaymentRead.model_validate(p)
            for p in await service.list_for_dossier(session, dossier_code)]


@router.get("/v1/payments/{reference}", operation_id="getPayment",
            responses=problems(PaymentNotFound, AgencyForbidden))
async def get_payment(reference: str, session: SessionDep, ctx: ContextDep,
                      who: Reader) -> PaymentRead:
    """One payment by its reference (MaThamChieu): the payer (the dossier's owner),
    officers of its agency, reader services."""
    await _payment(session, ctx, who, reference)
    return PaymentRead.model_validate(await service.get_by_reference(session, reference))


@router.post("/v1/payments/{reference}/cancellation", operation_id="cancelPayment",
             responses=problems(PaymentNotFound, PaymentNotCancellable, NotAllowed,
                                AgencyForbidden))
async def cancel_payment(
    reference: str, body: Cancellation, session: SessionDep, ctx: ContextDep,
    who: Annotated[Principal, require(kind=["citizen", "officer"], roles=CANCELLERS)],
) -> PaymentRead:
    """Cancel a pending online payment request, with the reason: the payer (the dossier's
    owner), or a receptionist or agency admin of its agency."""
    await _payment(session, ctx, who, reference, *CANCELLERS)
    return PaymentRead.model_validate(await service.cancel(
        session, ctx, reference, reason=body.reason, actor=who.subject))


@router.get("/v1/payments/{reference}/gateway-bill", operation_id="getGatewayBill",
            response_class=Response,
            responses=problems(PaymentNotFound, *GATEWAY_PROBLEMS, AgencyForbidden))
async def gateway_bill(reference: str, rt: RuntimeDep, ctx: ContextDep,
                       who: Reader) -> Response:
    """The gateway's own receipt of a paid transaction (GET_BILL), as PDF: the payer,
    officers of the payment's agency, reader services. (Asked with no transaction open.)"""
    async with request_transaction(rt.sessions) as session:
        await _payment(session, ctx, who, reference)
        await service.get_by_reference(session, reference)  # 404 if unknown
    try:
        data = await ctx.gateway.get_bill(reference)
    except GatewayError as exc:
        raise gateway_problem(exc) from exc
    return Response(data, media_type="application/pdf")


@router.post("/v1/counter-payments", status_code=status.HTTP_201_CREATED,
             operation_id="recordCounterPayment", response_model=CounterPaymentRead,
             responses=problems(AssessmentNotFound, NothingToPay, PaymentAmountMismatch,
                                IdempotencyKeyReused, NotAllowed, AgencyForbidden))
async def counter_payment(
    body: CounterPayment, session: SessionDep, ctx: ContextDep, idem: IdempotencyDep,
    who: Annotated[Principal, require(kind="officer", roles=["receptionist"])],
) -> CounterPaymentRead | JSONResponse:
    """Record cash or a bank transfer taken at the desk; issues the receipt at once.

    A receptionist of the dossier's agency (recorded as the payment's officer). Never
    counts as an online payment (DuocThanhToanTrucTuyen stays 0).
    """
    access.ensure(who, ctx, await access.dossier(session, body.dossier_code),
                  hidden=lambda: _no_assessment(body.dossier_code), roles=("receptionist",))
    if (replayed := await idem.replay(session)) is not None:
        return replayed
    payment, receipt = await service.pay_at_counter(
        session, ctx, dossier_code=body.dossier_code, method=body.method,
        amount_vnd=body.amount_vnd, actor=who.subject, payer_name=body.payer_name,
        transfer_reference=body.transfer_reference)
    result = CounterPaymentRead(payment=PaymentRead.model_validate(payment),
                                receipt=ReceiptRead.model_validate(receipt))
    idem.remember(session, status.HTTP_201_CREATED, result)
    return result


_CALLBACK_PROBLEMS = problems(CallbackMalformed, CallbackChecksumInvalid,
                              CallbackUnknownReference, CallbackAmountMismatch,
                              CallbackUnconfirmed, GatewayUnavailable, GatewayBusy,
                              GatewayPaused)


@router.post("/v1/gateway/ipn", operation_id="gatewayIpn", responses=_CALLBACK_PROBLEMS,
             dependencies=[PUBLIC])
async def gateway_ipn(request: Request, rt: RuntimeDep, ctx: ContextDep) -> dict[str, Any]:
    """The gateway's server-to-server notification (IPN). Public, trusted only after its
    checksum verifies and QUERY confirms it; forgeries and mismatches get a 4xx and a record.
    """
    try:
        payload: Any = await request.json()
    except ValueError:
        payload = (await request.body()).decode("utf-8", "replace")
    return await callbacks.process(rt.sessions, ctx, payload, "ipn",
                                   request.client.host if request.client else None)


@router.get("/v1/gateway/return", operation_id="gatewayReturn", responses=_CALLBACK_PROBLEMS,
            dependencies=[PUBLIC, ANY_QUERY])
async def gateway_return(request: Request, rt: RuntimeDep, ctx: ContextDep) -> dict[str, Any]:
    """Where the citizen's browser comes back from the gateway (signed query parameters).
    Public; handled exactly like an IPN."""
    payload: dict[str, Any] = dict(request.query_params)
    if payload.get("SoTien", "").isdigit():
        payload["SoTien"] = int(payload["SoTien"])
    return await callbacks.process(rt.sessions, ctx, payload, "return",
                                   request.client.host if request.client else None)


@router.get("/v1/gateway/callbacks", operation_id="listGatewayCallbacks",
            responses=problems(NotAllowed, AgencyForbidden))
async def list_callbacks(
    session: SessionDep, ctx: ContextDep,
    who: Annotated[Principal, require(kind=["officer", "service"], roles=access.AUDIT_ROLES,
                                      scopes=[access.RECONCILE])],
    reference: str | None = None, outcome: str | None = None,
    agency_code: Annotated[str | None, Query(max_length=35)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: OffsetQuery = 0,
) -> list[CallbackRead]:
    """Every notification received (trusted or not), newest first: the audit of callbacks.

    Services with ``payments.reconcile`` and the oversight agencies' auditors and agency
    admins see all of them; other auditors and agency admins see those naming a payment
    of their agencies (``agency_code`` narrows to one; another agency's is 403).
    """
    agencies = access.audited_agencies(who, ctx, agency_code)
    return [CallbackRead.model_validate(c) for c in await callbacks.list_callbacks(
        session, reference=reference, outcome=outcome, agencies=agencies, limit=limit,
        offset=offset)]
