"""The national payment platform over HTTP (version 1.0.6 messages, ``wire.py``).

Every command is a JSON POST of a signed message to the platform's endpoint; every answer
is signed too and verified before it is believed.

Connections are kept alive between commands. When the platform has closed a kept-alive
connection just as payments reuses it (its idle timeout won the race), the request fails
without an answer (``RemoteProtocolError``, or ``ReadError``/``WriteError`` on a reset):
such a request is sent once more on a new connection before the failure counts. That is
safe for every command: QUERY, GET_BILL and STATEMENT only read, and INIT is the same
signed message for the same ``MaThamChieu`` and amount, which the platform answers with
the order it already holds (the same payment URL) if the first attempt did reach it; an
order it holds under another amount is refused, never duplicated (domain.md §7, as the
simulator does). Timeouts and refused connections are not retried: the platform is slow
or down, and a second try would only double the wait.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from motcua.db import utcnow
from motcua.logging import get_logger
from motcua_payments.gateway import wire
from motcua_payments.gateway.adapter import (
    GatewayError,
    GatewayNotice,
    InitOrder,
    InitResult,
    NoticeRejected,
    QueryResult,
    QueryState,
    StatementEntry,
)

log = get_logger("motcua_payments.gateway")

#: How a request fails on a kept-alive connection the platform had closed: no answer came.
_STALE_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)

_STATES: dict[str, QueryState] = {wire.SUCCESS: "paid", wire.PENDING: "pending",
                                  wire.NOT_FOUND: "not_found"}


class NationalPlatformGateway:
    """:class:`~motcua_payments.gateway.adapter.Gateway` for the national payment platform."""

    online_payment_code: Literal[1, 2] = 1

    def __init__(self, base_url: str, partner_code: str, secret: str, *,
                 timeout_s: float = 10.0, transport: httpx.AsyncBaseTransport | None = None,
                 ) -> None:
        self.partner_code = partner_code
        self._secret = secret
        base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s,
                                       transport=transport)
        # The second try of a request that met a stale connection: a connection of its own,
        # never one from the pool (which may hold more connections closed the same way).
        self._fresh = httpx.AsyncClient(base_url=base_url, timeout=timeout_s,
                                        transport=transport,
                                        limits=httpx.Limits(max_keepalive_connections=0))

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        await self._http.aclose()
        await self._fresh.aclose()

    async def _post(self, message: wire.Message) -> httpx.Response:
        """POST a command; once more on a new connection if a kept-alive one was stale."""
        body = message.wire()
        try:
            return await self._http.post("/api/v1/gateway", json=body)
        except _STALE_CONNECTION as exc:
            log.info("gateway_connection_stale", command=body.get("MaLenh"),
                     error=f"{type(exc).__name__}: {exc}"[:200])
        return await self._fresh.post("/api/v1/gateway", json=body)

    async def _call(self, message: wire.Message, answer: type[wire.Message]) -> Any:
        try:
            response = await self._post(message)
        except httpx.HTTPError as exc:
            raise GatewayError(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise GatewayError(f"gateway answered HTTP {response.status_code}")
        try:
            parsed = wire.parse(answer, response.json())
        except (ValueError, ValidationError) as exc:
            raise GatewayError(f"unreadable {message.SIGNED[0]} answer: {exc}") from exc
        if not parsed.verifies(self._secret):
            raise GatewayError("gateway answer failed its checksum", rejected=True)
        return parsed

    async def init(self, order: InitOrder) -> InitResult:
        """Send INIT; the answer carries the payment URL."""
        request = wire.InitRequest(
            MaDoiTac=self.partner_code, MaThamChieu=order.reference, SoTien=order.amount_vnd,
            ThongTinGiaoDich=order.description.replace("|", "/"),
            ThoiGianGD=wire.format_time(order.at), Ip=order.client_ip,
            UrlTraVe=order.return_url, UrlThongBao=order.notify_url).signed(self._secret)
        answer: wire.InitResponse = await self._call(request, wire.InitResponse)
        if answer.MaLoi != wire.SUCCESS or not answer.UrlThanhToan:
            raise GatewayError(f"INIT refused: {answer.MaLoi} {answer.MoTaLoi}", rejected=True)
        return InitResult(payment_url=answer.UrlThanhToan)

    def verify_notice(self, payload: Mapping[str, Any],
                      channel: Literal["ipn", "return"]) -> GatewayNotice:
        """Parse and verify an IPN or a browser return."""
        reference = payload.get("MaThamChieu") if isinstance(payload, Mapping) else None
        reference = reference if isinstance(reference, str) else None
        try:
            notice = wire.parse(wire.Notification, payload)
        except (ValueError, ValidationError) as exc:
            raise NoticeRejected("malformed", str(exc)[:500], reference) from exc
        if notice.MaDoiTac != self.partner_code:
            raise NoticeRejected("forged", "notification for another partner", reference)
        if not notice.verifies(self._secret):
            raise NoticeRejected("forged", "MaXacThuc does not verify", reference)
        return GatewayNotice(channel=channel, reference=notice.MaThamChieu,
                             transaction_id=notice.MaGiaoDich, amount_vnd=notice.SoTien,
                             result_code=notice.MaLoi, success=notice.MaLoi == wire.SUCCESS,
                             at=wire.parse_time(notice.ThoiGianGD))

    async def query(self, reference: str) -> QueryResult:
        """Send QUERY and map the transaction's state."""
        request = wire.QueryRequest(MaDoiTac=self.partner_code, MaThamChieu=reference,
                                    ThoiGianGD=wire.format_time(utcnow())).signed(self._secret)
        answer: wire.QueryResponse = await self._call(request, wire.QueryResponse)
        if answer.MaThamChieu != reference:
            raise GatewayError("QUERY answered about another reference", rejected=True)
        state = _STATES.get(answer.MaLoi, "failed")
        return QueryResult(state=state, result_code=answer.MaLoi,
                           transaction_id=answer.MaGiaoDich, amount_vnd=answer.SoTien,
                           at=wire.parse_time(answer.ThoiGianGD) if state == "paid" else None)

    async def get_bill(self, reference: str) -> bytes:
        """Send GET_BILL; return the platform's PDF after checking its digest."""
        request = wire.GetBillRequest(MaDoiTac=self.partner_code, MaThamChieu=reference,
                                      ThoiGianGD=wire.format_time(utcnow())).signed(self._secret)
        answer: wire.GetBillResponse = await self._call(request, wire.GetBillResponse)
        if answer.MaLoi != wire.SUCCESS:
            raise GatewayError(f"GET_BILL refused: {answer.MaLoi}", rejected=True)
        data = base64.b64decode(answer.DuLieu)
        if hashlib.sha256(data).hexdigest() != answer.MaBamDuLieu:
            raise GatewayError("GET_BILL document does not match its digest", rejected=True)
        return data

    async def statement(self, day: date) -> list[StatementEntry]:
        """Send STATEMENT for a business day; check the count and total it signs."""
        request = wire.StatementRequest(
            MaDoiTac=self.partner_code, NgayDoiSoat=day.strftime("%Y%m%d"),
            ThoiGianGD=wire.format_time(utcnow())).signed(self._secret)
        answer: wire.StatementResponse = await self._call(request, wire.StatementResponse)
        if answer.MaLoi != wire.SUCCESS:
            raise GatewayError(f"STATEMENT refused: {answer.MaLoi}", rejected=True)
        lines = answer.DanhSachGiaoDich
        if len(lines) != answer.SoGiaoDich or sum(x.SoTien for x in lines) != answer.TongTien:
            raise GatewayError("statement lines do not add up to its signed totals",
                               rejected=True)
        return [StatementEntry(reference=x.MaThamChieu, transaction_id=x.MaGiaoDich,
                               amount_vnd=x.SoTien, at=wire.parse_time(x.ThoiGianGD))
                for x in lines]
