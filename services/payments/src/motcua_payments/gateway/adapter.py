"""The gateway seen from payments: an interface any intermediary can implement.

:class:`NationalPlatformGateway` (``national.py``) speaks the national payment platform's
wire format over HTTP; another intermediary (a provincial gateway, a bank) plugs in by
implementing :class:`Gateway` and being passed to ``create_app(gateway=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol

QueryState = Literal["paid", "pending", "failed", "not_found"]


@dataclass(frozen=True)
class InitOrder:
    """What payments asks the gateway to collect."""

    reference: str  # MaThamChieu, unique
    amount_vnd: int
    description: str
    client_ip: str
    return_url: str
    notify_url: str
    at: datetime


@dataclass(frozen=True)
class InitResult:
    """The gateway accepted the order: where the citizen pays."""

    payment_url: str


@dataclass(frozen=True)
class GatewayNotice:
    """A verified notification (IPN or browser return) about one payment."""

    channel: Literal["ipn", "return"]
    reference: str
    transaction_id: str
    amount_vnd: int
    result_code: str
    success: bool
    at: datetime


@dataclass(frozen=True)
class QueryResult:
    """The gateway's own answer about one payment (the one to trust)."""

    state: QueryState
    result_code: str
    transaction_id: str
    amount_vnd: int
    at: datetime | None


@dataclass(frozen=True)
class StatementEntry:
    """One successful transaction in the gateway's daily statement."""

    reference: str
    transaction_id: str
    amount_vnd: int
    at: datetime


class NoticeRejected(Exception):
    """A notification that cannot be trusted: ``reason`` is ``malformed`` or ``forged``."""

    def __init__(self, reason: Literal["malformed", "forged"], detail: str,
                 reference: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.reference = reference


class GatewayError(Exception):
    """The gateway could not be reached or answered something unusable."""

    def __init__(self, detail: str, *, rejected: bool = False) -> None:
        super().__init__(detail)
        self.rejected = rejected


class Gateway(Protocol):
    """A payment intermediary."""

    #: DuocThanhToanTrucTuyen code of payments through it: 1 national platform, 2 provincial.
    online_payment_code: Literal[1, 2]
    partner_code: str

    async def init(self, order: InitOrder) -> InitResult:
        """Create the payment at the gateway (raises GatewayError)."""
        ...

    def verify_notice(self, payload: Mapping[str, Any],
                      channel: Literal["ipn", "return"]) -> GatewayNotice:
        """Check a notification's format and checksum (raises NoticeRejected)."""
        ...

    async def query(self, reference: str) -> QueryResult:
        """Ask the gateway for the payment's state (raises GatewayError)."""
        ...

    async def get_bill(self, reference: str) -> bytes:
        """The gateway's receipt PDF of a paid transaction (raises GatewayError)."""
        ...

    async def statement(self, day: date) -> list[StatementEntry]:
        """The gateway's successful transactions of a business day (raises GatewayError)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
