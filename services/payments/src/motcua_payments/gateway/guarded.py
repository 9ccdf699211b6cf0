"""Any gateway behind a :class:`motcua.guard.CallGuard`.

Every command that goes to the platform (INIT, QUERY, GET_BILL, STATEMENT) passes the
guard; checking a notification's checksum is local and does not. A refused call raises
:class:`GatewayShed`, a :class:`GatewayError` that was never sent, which the routes
answer 503 ``gateway.busy`` or ``gateway.paused`` with Retry-After (``errors.py``).

What counts as the platform failing: a :class:`GatewayError` that is not a refusal
(a timeout, a refused connection, a 5xx, an answer that cannot be parsed). Whatever the
adapter marks ``rejected`` is an answer, and the platform is up: a refusal, and also an
answer whose checksum fails or that does not match what was asked (the national adapter
marks those ``rejected``: something answered, and waiting would not change it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import Any, Literal, TypeVar

from motcua.guard import CallGuard, CallRefused
from motcua_payments.gateway.adapter import (
    Gateway,
    GatewayError,
    GatewayNotice,
    InitOrder,
    InitResult,
    QueryResult,
    StatementEntry,
)

T = TypeVar("T")


class GatewayShed(GatewayError):
    """The guard refused the command: nothing was sent to the platform."""

    def __init__(self, refused: CallRefused) -> None:
        super().__init__(str(refused))
        self.refused = refused
        self.reason = refused.reason


def judge(exc: BaseException) -> bool | None:
    """True: the platform failed; False: it answered (a refusal); None: not its doing."""
    if isinstance(exc, GatewayError):
        return not exc.rejected
    return None


class GuardedGateway:
    """:class:`~motcua_payments.gateway.adapter.Gateway` that guards another one."""

    def __init__(self, inner: Gateway, guard: CallGuard) -> None:
        self.inner = inner
        self.guard = guard
        self.online_payment_code: Literal[1, 2] = inner.online_payment_code
        self.partner_code = inner.partner_code

    async def _guarded(self, command: Callable[[], Awaitable[T]]) -> T:
        try:
            call = self.guard.call()
        except CallRefused as exc:
            raise GatewayShed(exc) from exc
        async with call:
            return await command()

    async def init(self, order: InitOrder) -> InitResult:
        """INIT through the guard."""
        return await self._guarded(lambda: self.inner.init(order))

    def verify_notice(self, payload: Mapping[str, Any],
                      channel: Literal["ipn", "return"]) -> GatewayNotice:
        """Local: not guarded."""
        return self.inner.verify_notice(payload, channel)

    async def query(self, reference: str) -> QueryResult:
        """QUERY through the guard."""
        return await self._guarded(lambda: self.inner.query(reference))

    async def get_bill(self, reference: str) -> bytes:
        """GET_BILL through the guard."""
        return await self._guarded(lambda: self.inner.get_bill(reference))

    async def statement(self, day: date) -> list[StatementEntry]:
        """STATEMENT through the guard."""
        return await self._guarded(lambda: self.inner.statement(day))

    async def aclose(self) -> None:
        """Close the inner gateway."""
        await self.inner.aclose()
