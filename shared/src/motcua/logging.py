"""Structured JSON logs with request and correlation ids, and ID-number redaction.

Ids travel in context variables: the HTTP middleware binds them from ``X-Request-ID`` /
``X-Correlation-ID`` (or makes new ones), the outbox copies the correlation id into each
event, and the consumer runner binds it back from the event it handles, so one
citizen's request can be followed across every service's logs.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any

import structlog

from motcua.idnumbers import redact

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
causation_id_var: ContextVar[str | None] = ContextVar("causation_id", default=None)

def _redact_values(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_values(v) for v in value]
    return value


def _redact_processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: _redact_values(v) for k, v in event_dict.items()}


def _context_ids(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key, var in (("request_id", request_id_var), ("correlation_id", correlation_id_var),
                     ("causation_id", causation_id_var)):
        value = var.get()
        if value is not None:
            event_dict.setdefault(key, value)
    return event_dict


class _StdoutLogger:
    """Writes each rendered line to the *current* ``sys.stdout``.

    Looking the stream up at write time (not at configuration) keeps logging working when
    stdout is swapped (test capture, daemonisation); a failed write is dropped, because
    a log line must never fail the work it describes.
    """

    def msg(self, message: str) -> None:
        """Write one line."""
        try:
            print(message, file=sys.stdout, flush=True)
        except (ValueError, OSError):
            pass

    log = debug = info = warn = warning = error = err = critical = fatal = exception = msg


class _CurrentStdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stdlib handler that, like :class:`_StdoutLogger`, follows ``sys.stdout``."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass

    def handleError(self, record: logging.LogRecord) -> None:
        """Drop the record rather than print a traceback about a closed stream."""


_configured = False


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Configure structlog (and the stdlib root logger) once per process."""
    global _configured
    if _configured:
        return
    _configured = True
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _context_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact_processor,
    ]
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=lambda *_args: _StdoutLogger(),
        cache_logger_on_first_use=True,
    )
    handler = _CurrentStdoutHandler()
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=shared,
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log would print full paths (which may hold a dossier code); ours is enough.
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str | None = None) -> Any:
    """A structlog logger."""
    return structlog.get_logger(name)
