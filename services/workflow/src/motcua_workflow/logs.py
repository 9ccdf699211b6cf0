"""Workflow's loggers: a failing log line never fails the work it describes.

structlog's print logger writes to the stream it was first bound to; if that stream was
closed (a test's captured stdout, a rotated file), writing raises and would roll back the
transaction being logged. (Kit fix recommended: resolve ``sys.stdout`` at write time.)
"""

from __future__ import annotations

import contextlib
from typing import Any

from motcua.logging import get_logger


class SafeLogger:
    """A structlog logger whose calls swallow their own I/O failures."""

    def __init__(self, name: str) -> None:
        self._log = get_logger(name)

    def _emit(self, level: str, event: str, **fields: Any) -> None:
        with contextlib.suppress(Exception):
            getattr(self._log, level)(event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        """Log at INFO."""
        self._emit("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        """Log at WARNING."""
        self._emit("warning", event, **fields)


def logger(name: str) -> SafeLogger:
    """A safe logger for ``name``."""
    return SafeLogger(name)
