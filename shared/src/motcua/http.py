"""Pure ASGI middleware: request/correlation ids, body size limit, request metrics."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from motcua.db import waiting_at_most
from motcua.errors import BodyTooLarge, problem_response
from motcua.ids import new_id
from motcua.logging import correlation_id_var, request_id_var

_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


def _clean_id(value: str | None) -> str | None:
    if value and len(value) <= 100 and set(value) <= _ID_CHARS:
        return value
    return None


class RequestContextMiddleware:
    """Bind request and correlation ids for logs and events; echo them in the response.
    With ``database_wait_s``, the request waits at most that long for a database
    connection (:func:`motcua.db.waiting_at_most`)."""

    def __init__(self, app: ASGIApp, *, database_wait_s: float | None = None) -> None:
        self.app = app
        self.database_wait_s = database_wait_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = _clean_id(headers.get("x-request-id")) or new_id()
        correlation_id = _clean_id(headers.get("x-correlation-id")) or request_id
        r_token = request_id_var.set(request_id)
        c_token = correlation_id_var.set(correlation_id)

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (b"x-request-id", request_id.encode()),
                                      (b"x-correlation-id", correlation_id.encode())]
            await send(message)

        try:
            with waiting_at_most(self.database_wait_s):
                await self.app(scope, receive, send_with_ids)
        finally:
            request_id_var.reset(r_token)
            correlation_id_var.reset(c_token)


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` (413 problem+json), whether or not a length is sent."""

    def __init__(self, app: ASGIApp, max_bytes: int, *, exempt_prefixes: tuple[str, ...] = ()):
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.exempt and scope["path"].startswith(self.exempt)):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                response = problem_response(BodyTooLarge(f"limit is {self.max_bytes} bytes"))
                await response(scope, receive, send)
                return
        seen = 0
        exceeded = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge(f"limit is {self.max_bytes} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            # Whatever the app answered after the limit tripped (FastAPI turns errors
            # while reading a body into a 400), the client gets the 413.
            nonlocal replaced
            if not exceeded:
                await send(message)
                return
            if not replaced:
                replaced = True
                response = problem_response(BodyTooLarge(f"limit is {self.max_bytes} bytes"))
                await response(scope, receive, send)

        await self.app(scope, limited_receive, guarded_send)


class MetricsMiddleware:
    """Count requests and time them per route template (never per raw path)."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry, service: str) -> None:
        self.app = app
        self.requests = Counter("motcua_http_requests", "HTTP requests",
                                ["service", "method", "route", "status"], registry=registry)
        self.latency = Histogram("motcua_http_request_seconds", "HTTP request latency",
                                 ["service", "method", "route"], registry=registry,
                                 buckets=(.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.requests.labels(self.service, scope["method"], route, str(status["code"])).inc()
            self.latency.labels(self.service, scope["method"], route).observe(
                time.perf_counter() - start)
