"""A kept-alive connection the gateway has closed is not a gateway failure.

:class:`DroppingFront` is an HTTP/1.1 server on a loopback port in front of the simulator:
it keeps each connection alive after the first answer and then drops the next request
that comes on it, as a gateway does whose idle timeout fires while payments is reusing
the connection. Payments must send such a request once more on a new connection instead
of answering 502 ``gateway.unavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, Literal

import httpx
import pytest

from motcua.testing import Mesh
from motcua_payments.gateway.adapter import InitOrder
from motcua_payments.gateway.national import NationalPlatformGateway
from tests.motcua_payments.conftest import LoopbackServer, Payments
from tests.motcua_payments.test_callbacks import request_payment

#: ``unsent``: closed before the request reached the gateway (FIN); ``reset``: the same
#: with a TCP reset; ``answered``: the gateway handled the request, then closed without
#: sending the answer (the ambiguous case, where resending INIT must not duplicate it).
Drop = Literal["unsent", "reset", "answered"]

PARTNER = "MCTEST"
SECRET = "motcua-dev-secret"  # the simulator's development secret for any partner


class DroppingFront:
    """Forwards requests to ``upstream``; the second request of a connection is dropped."""

    def __init__(self, upstream: str, drop: Drop) -> None:
        self.drop = drop
        self._upstream = httpx.AsyncClient(base_url=upstream, timeout=30)
        self._server: asyncio.Server | None = None
        self.url = ""
        self.connections = 0
        self.answered = 0
        #: MaLenh of each dropped request.
        self.dropped: list[str] = []

    async def __aenter__(self) -> DroppingFront:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        await self._upstream.aclose()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            served = 0
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                method, path, headers, body = request
                if served == 1:
                    self.dropped.append(json.loads(body).get("MaLenh", "?"))
                    if self.drop == "answered":
                        await self._forward(method, path, headers, body)
                    if self.drop == "reset":
                        writer.get_extra_info("socket").setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                status, content_type, content = await self._forward(method, path, headers,
                                                                    body)
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\n"
                             f"content-length: {len(content)}\r\n"
                             "connection: keep-alive\r\n\r\n".encode() + content)
                await writer.drain()
                self.answered += 1
                served += 1
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _forward(self, method: str, path: str, headers: dict[str, str],
                       body: bytes) -> tuple[int, str, bytes]:
        response = await self._upstream.request(
            method, path, content=body,
            headers={"content-type": headers.get("content-type", "application/json")})
        return (response.status_code, response.headers.get("content-type", "text/plain"),
                response.content)


async def _read_request(reader: asyncio.StreamReader,
                        ) -> tuple[str, str, dict[str, str], bytes] | None:
    """One HTTP/1.1 request with a Content-Length body; None at the end of the stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {k.strip().lower(): v.strip()
               for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return method, path, headers, body


@pytest.fixture(params=["unsent", "reset", "answered"])
async def front(request: pytest.FixtureRequest,
                simulator: LoopbackServer) -> AsyncIterator[DroppingFront]:
    """The simulator behind a front that drops every connection's second request."""
    async with DroppingFront(simulator.url, request.param) as f:
        yield f


def _order(reference: str, amount: int = 50_000) -> InitOrder:
    return InitOrder(reference=reference, amount_vnd=amount, description="Phi ho so",
                     client_ip="127.0.0.1", return_url="http://127.0.0.1:9/return",
                     notify_url="http://127.0.0.1:9/ipn", at=datetime.now(UTC))


async def _sim(simulator: LoopbackServer, method: str, path: str, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(base_url=simulator.url, timeout=30) as http:
        response = await http.request(method, path, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


async def test_every_command_survives_a_stale_connection(front: DroppingFront,
                                                         simulator: LoopbackServer) -> None:
    gateway = NationalPlatformGateway(front.url, PARTNER, SECRET)
    try:
        # Odd calls open a connection and are answered on it; even calls come second on
        # that kept-alive connection and are dropped there once.
        first = await gateway.init(_order("MCSTALE1"))
        second = await gateway.init(_order("MCSTALE2"))
        await _sim(simulator, "POST", "/sim/transactions/MCSTALE1/completion",
                   json={"outcome": "paid", "notify": False})
        paid = await gateway.query("MCSTALE1")
        pending = await gateway.query("MCSTALE2")
        assert paid.state == "paid" and paid.at is not None
        entries = await gateway.statement(paid.at.date())
        bill = await gateway.get_bill("MCSTALE1")
        again = await gateway.init(_order("MCSTALE2"))
        again_entries = await gateway.statement(paid.at.date())
    finally:
        await gateway.aclose()
    assert front.dropped == ["INIT", "QUERY", "GET_BILL", "STATEMENT"]
    assert pending.state == "pending"
    assert bill.startswith(b"%PDF")
    assert [e.reference for e in entries] == [e.reference for e in again_entries] == ["MCSTALE1"]
    # INIT sent again for the same reference (even after the gateway handled the dropped
    # try) is the same order, not a second one.
    assert again.payment_url == second.payment_url != first.payment_url
    transactions = await _sim(simulator, "GET", "/sim/transactions")
    assert sorted(t["reference"] for t in transactions) == ["MCSTALE1", "MCSTALE2"]


@pytest.fixture
async def behind(mesh: Mesh, front: DroppingFront) -> AsyncIterator[Payments]:
    """Payments (both backends) whose gateway URL is the dropping front."""
    p = Payments(mesh, SimpleNamespace(url=front.url))  # type: ignore[arg-type]
    await p.front.start()
    await p.start()
    yield p
    with contextlib.suppress(Exception):
        if p.service is not None:
            await p.stop()
    await p.close()


async def test_payment_request_is_not_a_502_after_the_gateway_closed_the_connection(
        behind: Payments, front: DroppingFront) -> None:
    await behind.receive("D-STALE-1")
    await behind.receive("D-STALE-2")
    one = await request_payment(behind, "D-STALE-1")
    # INIT of the second payment comes second on the kept-alive connection.
    two = await request_payment(behind, "D-STALE-2")
    assert front.dropped == ["INIT"]
    assert one["reference"] != two["reference"] and two["payment_url"]
    transactions = await behind.sim("GET", "/sim/transactions")
    assert sorted(t["reference"] for t in transactions) == sorted(
        [one["reference"], two["reference"]])
    assert [t["amount_vnd"] for t in transactions] == [50_000, 50_000]
