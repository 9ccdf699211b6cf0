"""Pure ASGI middleware: request/correlation ids, body size limit, requests in flight,
request metrics."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from motcua.db import waiting_at_most
from motcua.errors import BodyTooLarge, ServiceBusy, problem_response
from motcua.ids import new_id
from motcua.logging import correlation_id_var, get_logger, request_id_var

log = get_logger(__name__)

#: Scope key set on a request the in-flight limit refused before routing.
SHED = "motcua.shed"
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


class InFlightLimitMiddleware:
    """Refuse a request at once, with 503 ``service.busy`` and ``Retry-After``, while
    ``limit`` requests are already being worked on in this process.

    Why: a process that is given more work than its CPU can do keeps accepting it, and
    every request then waits behind all the others (latency ≈ requests in progress ÷
    throughput) until clients time out while their requests are still applied. A refusal
    here costs no body parsing, token check or database work, and the client knows at
    once that nothing was done.

    A request counts from its arrival until its answer starts, except while it waits for
    the client (in ``receive``: a body still arriving): a slow upload or a download the
    client reads slowly holds no place, so slow clients cannot take every place (uvicorn
    has no timeout for either). Paths in ``exempt_paths`` and under ``exempt_prefixes``
    (liveness, readiness, metrics, the mesh's key set) are neither counted nor refused.
    ``motcua_http_requests_in_flight`` and ``motcua_http_shed_requests_total`` show it;
    ``requests_shed`` is logged at most every ``log_every_s`` while it lasts, and once
    more for the rest at the first request admitted after that.
    """

    def __init__(self, app: ASGIApp, *, limit: int, registry: CollectorRegistry,
                 service: str, exempt_paths: tuple[str, ...] = ("/healthz", "/readyz",
                                                                "/metrics"),
                 exempt_prefixes: tuple[str, ...] = ("/.well-known/",),
                 log_every_s: float = 10.0) -> None:
        self.app = app
        self.limit = limit
        self.exempt = frozenset(exempt_paths)
        self.exempt_prefixes = exempt_prefixes
        self.in_flight = 0
        Gauge("motcua_http_requests_in_flight", "HTTP requests being worked on (not "
              "waiting for the client; operations endpoints not counted)", ["service"],
              registry=registry).labels(service).set_function(lambda: self.in_flight)
        self.shed = Counter("motcua_http_shed_requests", "HTTP requests refused with 503 "
                            "because the limit of requests in progress was reached",
                            ["service"], registry=registry).labels(service)
        self.log_every_s = log_every_s
        self._unlogged = 0
        self._logged_at = -log_every_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt \
                or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self._refused()
            scope[SHED] = True  # for MetricsMiddleware: not routed, but not a 404
            await problem_response(ServiceBusy(
                f"{self.limit} requests are already in progress, the most this service "
                "takes at once: nothing was done. Retry after the delay given.",
                retry_after=1))(scope, receive, send)
            return
        if self._unlogged:
            self._log(time.monotonic())
        counted = True
        answered = False
        waiting = 0  # calls of receive in progress (a disconnect listener may overlap)
        self.in_flight += 1

        def release() -> None:
            nonlocal counted
            if counted:
                self.in_flight -= 1
                counted = False

        async def counted_receive() -> Message:
            nonlocal counted, waiting
            waiting += 1
            release()
            try:
                return await receive()
            finally:
                waiting -= 1
                if not waiting and not answered and not counted:
                    self.in_flight += 1
                    counted = True

        async def counted_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                release()
            await send(message)

        try:
            await self.app(scope, counted_receive, counted_send)
        finally:
            release()

    def _refused(self) -> None:
        self.shed.inc()
        self._unlogged += 1
        self._log(time.monotonic())

    def _log(self, now: float) -> None:
        if now - self._logged_at >= self.log_every_s:
            log.warning("requests_shed", refused=self._unlogged, limit=self.limit)
            self._unlogged, self._logged_at = 0, now


class MetricsMiddleware:
    """Count requests and time them per route template (never per raw path): ``shed``
    for those the in-flight limit refused before routing, ``unmatched`` for the rest that
    matched no route."""

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
            route = getattr(scope.get("route"), "path", None) or \
                ("shed" if scope.get(SHED) else "unmatched")
            self.requests.labels(self.service, scope["method"], route, str(status["code"])).inc()
            self.latency.labels(self.service, scope["method"], route).observe(
                time.perf_counter() - start)
