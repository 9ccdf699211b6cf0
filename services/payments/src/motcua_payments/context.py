"""What the payments use cases need beyond a session: settings, the gateway, a fault seam."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from motcua_payments.config import Settings
from motcua_payments.gateway.adapter import Gateway

#: Test seam: awaited at named points ("callback.confirmed", "settlement.flushed") so a
#: test can crash the service exactly there.
FaultHook = Callable[[str], Awaitable[None]]


@dataclass
class PaymentsContext:
    """Held on ``app.state.payments``."""

    settings: Settings
    gateway: Gateway
    fault_hook: FaultHook | None = None

    @property
    def province(self) -> str:
        """The province events are published for."""
        return self.settings.province

    async def fault(self, point: str) -> None:
        """Run the fault seam, if any."""
        if self.fault_hook is not None:
            await self.fault_hook(point)


async def payments_context(request: Request) -> PaymentsContext:
    """The running service's payments context."""
    return request.app.state.payments


ContextDep = Annotated[PaymentsContext, Depends(payments_context)]
