"""A national-payment-platform simulator: the same wire format, controllable misbehaviour.

It is what a fake of an outside system should be (style.md): it speaks the real messages
(INIT, QUERY, GET_BILL, STATEMENT with ``MaXacThuc`` checksums), renders a payment page,
and sends signed IPN callbacks with retries. The ``/sim`` endpoints let a test or a
developer make it misbehave: duplicate, late, out-of-order, forged and amount-mismatched
callbacks, and a tampered daily statement. State is in memory (a restart forgets it).

Run it with ``python -m motcua_payments.simulator`` (port 8110).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import html
import io
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from motcua.db import utcnow
from motcua.errors import NotFound, install_problem_handlers
from motcua_payments.gateway import wire
from motcua_payments.simulator.config import SimulatorSettings


@dataclass
class SimTransaction:
    """One payment as the platform holds it."""

    partner: str
    reference: str
    amount_vnd: int
    description: str
    token: str
    notify_url: str | None
    return_url: str | None
    created_at: datetime
    status: Literal["pending", "paid", "failed", "cancelled"] = "pending"
    transaction_id: str = ""
    paid_at: datetime | None = None

    @property
    def code(self) -> str:
        """MaLoi of the transaction's current state."""
        return {"pending": wire.PENDING, "paid": wire.SUCCESS, "failed": wire.FAILED,
                "cancelled": wire.CANCELLED}[self.status]


@dataclass
class Tampering:
    """Discrepancies injected into one day's statement."""

    drop: set[str] = field(default_factory=set)
    add: list[wire.StatementLine] = field(default_factory=list)
    alter: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class SimState:
    """Everything the simulator remembers."""

    transactions: dict[str, SimTransaction] = field(default_factory=dict)
    tampering: dict[str, Tampering] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    serial: int = 0

    def next_transaction_id(self) -> str:
        """MaGiaoDich: the platform's own id."""
        self.serial += 1
        return f"GD{utcnow():%y%m%d}{self.serial:08d}"


class CallbackSpec(BaseModel):
    """One callback to send, as the test wants it."""

    model_config = ConfigDict(extra="forbid")
    result: Literal["current", "paid", "failed"] = "current"
    forge: bool = False
    amount_delta: int = 0
    transaction_id: str | None = None
    partner: str | None = None
    delay_s: float = Field(0, ge=0, le=3600)
    channel: Literal["ipn", "return"] = "ipn"


class CallbackPlan(BaseModel):
    """Callbacks to send, in order; ``wait`` answers their outcomes instead of sending later."""

    model_config = ConfigDict(extra="forbid")
    callbacks: list[CallbackSpec] = Field(min_length=1, max_length=50)
    wait: bool = True


class Completion(BaseModel):
    """Finish a transaction as if the citizen used the payment page."""

    model_config = ConfigDict(extra="forbid")
    outcome: Literal["paid", "failed", "cancelled"] = "paid"
    notify: bool = True
    paid_at: str | None = Field(None, pattern=r"^\d{14}$")


class TamperingIn(BaseModel):
    """Discrepancies for a day's statement."""

    model_config = ConfigDict(extra="forbid")
    drop: list[str] = []
    add: list[wire.StatementLine] = []
    alter: dict[str, dict[str, Any]] = {}


class TransactionNotFound(NotFound):
    code = "simulator.transaction_not_found"
    title = "No such transaction"


def create_app(settings: SimulatorSettings | None = None, **_: object) -> FastAPI:
    """Build the simulator app."""
    settings = settings or SimulatorSettings()
    state = SimState()
    http = httpx.AsyncClient(timeout=10)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for task in list(state.tasks):
                task.cancel()
            for task in list(state.tasks):
                with contextlib.suppress(BaseException):
                    await task
            await http.aclose()

    app = FastAPI(title="Motcua payment platform simulator", version=wire.VERSION,
                  description=__doc__, lifespan=lifespan)
    app.state.sim = state
    app.state.settings = settings
    install_problem_handlers(app)

    def secret_for(partner: str) -> str | None:
        if settings.partners:
            return settings.partners.get(partner)
        return settings.secret

    def now_text() -> str:
        return wire.format_time(utcnow())

    def notification(tx: SimTransaction, spec: CallbackSpec) -> dict[str, Any]:
        code = tx.code if spec.result == "current" else \
            wire.SUCCESS if spec.result == "paid" else wire.FAILED
        partner = spec.partner or tx.partner
        message = wire.Notification(
            MaLenh="IPN" if spec.channel == "ipn" else "RETURN", MaDoiTac=partner,
            MaThamChieu=tx.reference,
            MaGiaoDich=spec.transaction_id if spec.transaction_id is not None
            else tx.transaction_id,
            SoTien=tx.amount_vnd + spec.amount_delta, MaLoi=code,
            MoTaLoi="Thành công" if code == wire.SUCCESS else "Không thành công",
            ThoiGianGD=wire.format_time(tx.paid_at or utcnow()))
        signed = message.signed(secret_for(tx.partner) or "")
        body = signed.wire()
        if spec.forge:
            body["MaXacThuc"] = hashlib.sha256(secrets.token_bytes(16)).hexdigest()
        return body

    async def deliver(tx: SimTransaction, spec: CallbackSpec) -> dict[str, Any]:
        if spec.delay_s:
            await asyncio.sleep(spec.delay_s)
        body = notification(tx, spec)
        record: dict[str, Any] = {"reference": tx.reference, "spec": spec.model_dump(),
                                  "sent_at": utcnow().isoformat()}
        try:
            if spec.channel == "ipn":
                if not tx.notify_url:
                    raise RuntimeError("no UrlThongBao for this transaction")
                response = await http.post(tx.notify_url, json=body)
            else:
                if not tx.return_url:
                    raise RuntimeError("no UrlTraVe for this transaction")
                response = await http.get(tx.return_url, params=body)
            record.update(status=response.status_code, body=_json_or_text(response))
        except Exception as exc:
            record.update(status=None, error=f"{type(exc).__name__}: {exc}")
        state.sent.append(record)
        return record

    async def notify_with_retries(tx: SimTransaction) -> None:
        """The platform's IPN: retried until the partner answers 2xx (or 4xx: it refused)."""
        spec = CallbackSpec()
        for delay in [0.0, *settings.ipn_retry_delays_s]:
            await asyncio.sleep(delay)
            record = await deliver(tx, spec)
            status = record.get("status")
            if status is not None and status < 500:
                return

    def spawn(coro: Any) -> None:
        task = asyncio.create_task(coro)
        state.tasks.add(task)
        task.add_done_callback(state.tasks.discard)

    def complete(tx: SimTransaction, outcome: str, paid_at: datetime | None = None) -> None:
        if tx.status != "pending":
            return
        tx.status = outcome  # type: ignore[assignment]
        if outcome == "paid":
            tx.transaction_id = state.next_transaction_id()
            tx.paid_at = paid_at or utcnow()

    # --- the platform's API -------------------------------------------------------------

    api = APIRouter(tags=["platform"])

    @api.post("/api/v1/gateway", operation_id="platformCommand")
    async def command(request: Request) -> JSONResponse:
        """INIT, QUERY, GET_BILL and STATEMENT, by ``MaLenh`` (signed JSON both ways)."""
        try:
            payload = await request.json()
            kind = {"INIT": wire.InitRequest, "QUERY": wire.QueryRequest,
                    "GET_BILL": wire.GetBillRequest, "STATEMENT": wire.StatementRequest,
                    }[payload.get("MaLenh")]
            message = wire.parse(kind, payload)
        except (ValueError, KeyError, AttributeError, TypeError, ValidationError) as exc:
            return JSONResponse({"MaLoi": wire.BAD_REQUEST, "MoTaLoi": str(exc)[:300]},
                                status_code=400)
        secret = secret_for(message.MaDoiTac)
        if secret is None or not message.verifies(secret):
            return JSONResponse({"MaLoi": wire.BAD_CHECKSUM, "MoTaLoi": "Sai mã xác thực"},
                                status_code=400)
        if isinstance(message, wire.InitRequest):
            answer = init(message)
        elif isinstance(message, wire.QueryRequest):
            answer = query(message)
        elif isinstance(message, wire.GetBillRequest):
            answer = get_bill(message)
        else:
            answer = statement(message)
        return JSONResponse(answer.signed(secret).wire())

    def init(message: wire.InitRequest) -> wire.InitResponse:
        tx = state.transactions.get(message.MaThamChieu)
        if tx is not None and tx.amount_vnd != message.SoTien:
            return wire.InitResponse(MaDoiTac=message.MaDoiTac, MaThamChieu=message.MaThamChieu,
                                     MaLoi="02", MoTaLoi="Mã tham chiếu đã tồn tại",
                                     ThoiGianGD=now_text())
        if tx is None:
            tx = SimTransaction(
                partner=message.MaDoiTac, reference=message.MaThamChieu,
                amount_vnd=message.SoTien, description=message.ThongTinGiaoDich,
                token=secrets.token_urlsafe(16),
                notify_url=message.UrlThongBao or settings.default_ipn_url,
                return_url=message.UrlTraVe, created_at=utcnow())
            state.transactions[tx.reference] = tx
        return wire.InitResponse(
            MaDoiTac=message.MaDoiTac, MaThamChieu=tx.reference, MaLoi=wire.SUCCESS,
            MoTaLoi="Thành công", ThoiGianGD=now_text(),
            UrlThanhToan=f"{settings.public_url.rstrip('/')}/pay/{tx.token}")

    def query(message: wire.QueryRequest) -> wire.QueryResponse:
        tx = state.transactions.get(message.MaThamChieu)
        if tx is None or tx.partner != message.MaDoiTac:
            return wire.QueryResponse(MaDoiTac=message.MaDoiTac,
                                      MaThamChieu=message.MaThamChieu, MaLoi=wire.NOT_FOUND,
                                      MoTaLoi="Không tìm thấy giao dịch", ThoiGianGD=now_text())
        return wire.QueryResponse(
            MaDoiTac=tx.partner, MaThamChieu=tx.reference, MaGiaoDich=tx.transaction_id,
            SoTien=tx.amount_vnd, MaLoi=tx.code, MoTaLoi=tx.status,
            ThoiGianGD=wire.format_time(tx.paid_at or tx.created_at))

    def get_bill(message: wire.GetBillRequest) -> wire.GetBillResponse:
        tx = state.transactions.get(message.MaThamChieu)
        if tx is None or tx.status != "paid":
            return wire.GetBillResponse(MaDoiTac=message.MaDoiTac,
                                        MaThamChieu=message.MaThamChieu, MaLoi=wire.NOT_FOUND,
                                        ThoiGianGD=now_text())
        pdf = _bill_pdf(tx)
        return wire.GetBillResponse(
            MaDoiTac=tx.partner, MaThamChieu=tx.reference, MaLoi=wire.SUCCESS,
            DuLieu=base64.b64encode(pdf).decode(), MaBamDuLieu=hashlib.sha256(pdf).hexdigest(),
            ThoiGianGD=now_text())

    def statement(message: wire.StatementRequest) -> wire.StatementResponse:
        day = message.NgayDoiSoat
        lines = [wire.StatementLine(MaThamChieu=tx.reference, MaGiaoDich=tx.transaction_id,
                                    SoTien=tx.amount_vnd, ThoiGianGD=wire.format_time(tx.paid_at))
                 for tx in state.transactions.values()
                 if tx.partner == message.MaDoiTac and tx.status == "paid" and tx.paid_at
                 and wire.format_time(tx.paid_at)[:8] == day]
        tampering = state.tampering.get(day)
        if tampering:
            lines = [line.model_copy(update=tampering.alter.get(line.MaThamChieu, {}))
                     for line in lines if line.MaThamChieu not in tampering.drop]
            lines.extend(tampering.add)
        return wire.StatementResponse(
            MaDoiTac=message.MaDoiTac, NgayDoiSoat=day, MaLoi=wire.SUCCESS,
            SoGiaoDich=len(lines), TongTien=sum(x.SoTien for x in lines),
            DanhSachGiaoDich=lines)

    # --- the citizen's payment page -----------------------------------------------------

    page = APIRouter(tags=["payment page"])

    def by_token(token: str) -> SimTransaction:
        for tx in state.transactions.values():
            if tx.token == token:
                return tx
        raise TransactionNotFound("no payment behind this link")

    @page.get("/pay/{token}", response_class=HTMLResponse, operation_id="paymentPage")
    async def payment_page(token: str) -> HTMLResponse:
        """The page the citizen pays on."""
        tx = by_token(token)
        amount = f"{tx.amount_vnd:,}".replace(",", ".")
        done = "" if tx.status == "pending" else \
            f"<p class=state>Trạng thái: {html.escape(tx.status)}</p>"
        buttons = "" if tx.status != "pending" else (
            "<form method=post><button name=action value=pay>Thanh toán</button> "
            "<button name=action value=cancel>Hủy</button></form>")
        return HTMLResponse(
            "<!doctype html><html lang=vi><meta charset=utf-8>"
            "<title>Cổng thanh toán (mô phỏng)</title>"
            "<h1>Nền tảng thanh toán — mô phỏng</h1>"
            f"<p>Mã tham chiếu: <b>{html.escape(tx.reference)}</b></p>"
            f"<p>Nội dung: {html.escape(tx.description)}</p>"
            f"<p>Số tiền: <b>{amount} VND</b></p>{done}{buttons}</html>")

    @page.post("/pay/{token}", operation_id="submitPaymentPage")
    async def submit_payment_page(token: str,
                                  action: Literal["pay", "cancel"] = Form(...)) -> Any:
        """The citizen pays (or cancels); the IPN goes out and the browser is sent back."""
        tx = by_token(token)
        complete(tx, "paid" if action == "pay" else "cancelled")
        spawn(notify_with_retries(tx))
        if tx.return_url:
            body = notification(tx, CallbackSpec(channel="return"))
            separator = "&" if "?" in tx.return_url else "?"
            return RedirectResponse(f"{tx.return_url}{separator}{urlencode(body)}",
                                    status_code=303)
        return await payment_page(token)

    # --- control of the simulator (tests, demos) ----------------------------------------

    control = APIRouter(prefix="/sim", tags=["simulator control"])

    def find(reference: str) -> SimTransaction:
        tx = state.transactions.get(reference)
        if tx is None:
            raise TransactionNotFound(f"no transaction {reference}")
        return tx

    @control.get("/transactions", operation_id="simTransactions")
    async def transactions() -> list[dict[str, Any]]:
        """Every transaction."""
        return [_tx_dict(tx) for tx in state.transactions.values()]

    @control.get("/transactions/{reference}", operation_id="simTransaction")
    async def transaction(reference: str) -> dict[str, Any]:
        """One transaction."""
        return _tx_dict(find(reference))

    @control.post("/transactions/{reference}/completion", operation_id="simComplete")
    async def complete_transaction(reference: str, body: Completion) -> dict[str, Any]:
        """Pay, fail or cancel a transaction as the citizen would; ``notify`` sends the IPN."""
        tx = find(reference)
        complete(tx, body.outcome, wire.parse_time(body.paid_at) if body.paid_at else None)
        if body.notify:
            spawn(notify_with_retries(tx))
        return _tx_dict(tx)

    @control.post("/transactions/{reference}/callbacks", operation_id="simCallbacks")
    async def send_callbacks(reference: str, body: CallbackPlan) -> dict[str, Any]:
        """Send callbacks exactly as described (duplicates, forgeries, wrong amounts …)."""
        tx = find(reference)
        if body.wait:
            return {"sent": [await deliver(tx, spec) for spec in body.callbacks]}

        async def in_order() -> None:
            for spec in body.callbacks:
                await deliver(tx, spec)

        spawn(in_order())
        return {"scheduled": len(body.callbacks)}

    @control.put("/statements/{day}/tampering", operation_id="simTamperStatement")
    async def tamper(day: str, body: TamperingIn) -> dict[str, Any]:
        """Inject discrepancies into a day's (yyyyMMdd) statement."""
        date(int(day[:4]), int(day[4:6]), int(day[6:8]))
        state.tampering[day] = Tampering(set(body.drop), list(body.add), dict(body.alter))
        return {"day": day, "drop": sorted(body.drop), "add": len(body.add),
                "alter": sorted(body.alter)}

    @control.get("/callbacks", operation_id="simSentCallbacks")
    async def sent() -> list[dict[str, Any]]:
        """Callbacks sent so far and what the partner answered."""
        return state.sent

    ops = APIRouter(tags=["operations"])

    @ops.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness."""
        return {"status": "ok"}

    @ops.get("/readyz")
    async def readyz() -> dict[str, str]:
        """Readiness (nothing to depend on)."""
        return {"status": "ready"}

    for router in (api, page, control, ops):
        app.include_router(router)
    return app


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


def _tx_dict(tx: SimTransaction) -> dict[str, Any]:
    return {"reference": tx.reference, "partner": tx.partner, "amount_vnd": tx.amount_vnd,
            "status": tx.status, "transaction_id": tx.transaction_id,
            "paid_at": wire.format_time(tx.paid_at) if tx.paid_at else None,
            "payment_path": f"/pay/{tx.token}", "notify_url": tx.notify_url}


def _bill_pdf(tx: SimTransaction) -> bytes:
    """The platform's own (minimal) receipt for GET_BILL."""
    from reportlab.pdfgen import canvas

    from motcua_payments.receipts.pdf import _fonts, vnd

    regular, bold = _fonts()
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, invariant=True)
    pdf.setFont(bold, 14)
    pdf.drawString(60, 780, "Nền tảng thanh toán — chứng từ giao dịch (mô phỏng)")
    pdf.setFont(regular, 11)
    for i, line in enumerate([f"Mã tham chiếu: {tx.reference}",
                              f"Mã giao dịch: {tx.transaction_id}",
                              f"Số tiền: {vnd(tx.amount_vnd)}",
                              f"Thời gian: {wire.format_time(tx.paid_at or utcnow())}"]):
        pdf.drawString(60, 750 - 18 * i, line)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
