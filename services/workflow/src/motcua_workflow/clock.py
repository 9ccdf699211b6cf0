"""Where workflow reads the time, so tests can move it (timers are judged against it)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from motcua.db import utcnow


class Clock(Protocol):
    """A source of the current instant (aware, UTC)."""

    def now(self) -> datetime:
        """The current instant."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        return utcnow()
