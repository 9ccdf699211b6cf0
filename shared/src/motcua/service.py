"""The service skeleton every Motcua service is built from.

:func:`create_service_app` wires settings, the database, the NATS bus, the outbox relay,
the service's consumers, problem+json errors, ids and metrics middleware, and the
operational endpoints ``/healthz``, ``/readyz`` and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response, params
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from motcua.bus import Bus
from motcua.config import ServiceSettings
from motcua.consumer import BatchHandler, ConsumerRunner, Handler
from motcua.contracts import REGISTRY
from motcua.db import create_engine, ping, session_factory
from motcua.errors import (
    PROBLEM_JSON,
    SERVER_PROBLEMS,
    BodyTooLarge,
    DatabaseOutcomeUnknown,
    FieldError,
    MalformedBody,
    ProblemDoc,
    TextNotStorable,
    ValidationFailed,
    document_in_schema,
    install_problem_handlers,
    nul_character,
)
from motcua.http import (
    BodyLimitMiddleware,
    InFlightLimitMiddleware,
    MetricsMiddleware,
    RequestContextMiddleware,
)
from motcua.idempotency import IdempotencyInProgress
from motcua.logging import configure_logging, get_logger
from motcua.outbox import FaultHook, Relay
from motcua.streams import CONSUMERS

log = get_logger("motcua.service")


@dataclass
class Runtime:
    """What a running service holds; stored on ``app.state.runtime``."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: Bus
    relay: Relay
    consumers: list[ConsumerRunner] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)


async def stop_tasks(tasks: Sequence[asyncio.Task[Any]], *, round_s: float = 1.0,
                     give_up_s: float = 15.0) -> None:
    """Cancel ``tasks`` and wait for them to end, cancelling again any that keep running.

    Again, because on Python 3.11 a cancellation can be swallowed by ``asyncio.wait_for``
    when what it waits for completes at the same moment (SQLAlchemy's pool waits for a
    connection that way): the task then carries on as if nothing had happened, and a
    single cancel would leave shutdown waiting for it forever. A task still running after
    ``give_up_s`` is logged and left behind.
    """
    pending = {t for t in tasks if not t.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_s
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=round_s)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("task_failed_at_shutdown", task=task.get_name(),
                        error=repr(task.exception()))
    for task in pending:
        log.warning("task_would_not_stop", task=task.get_name())


async def runtime(request: Request) -> Runtime:
    """The running service's runtime."""
    return request.app.state.runtime


@asynccontextmanager
async def request_transaction(sessions: async_sessionmaker[AsyncSession]
                              ) -> AsyncIterator[AsyncSession]:
    """One transaction of a request, committed when the block ends, with the answers a
    request gives for what can go wrong at the commit.

    :func:`get_session` (``SessionDep``) is one of these for the whole request; a handler
    that must not hold a transaction while it waits for an outside system (payments'
    INIT) opens its own, one before and one after the wait.
    """
    async with sessions() as session:
        committing = False
        try:
            async with session.begin():
                yield session
                committing = True
        except IntegrityError as exc:
            # Two concurrent requests with one Idempotency-Key meet at its primary key:
            # the loser answers 409 instead of failing at commit.
            if session.info.get("idempotency") and "idempotency_key" in str(exc.orig):
                raise IdempotencyInProgress() from exc
            raise
        except DBAPIError as exc:
            # The connection was lost during the COMMIT: the server may have applied it.
            if committing and exc.connection_invalidated:
                raise DatabaseOutcomeUnknown() from exc
            raise


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    async with request_transaction(request.app.state.runtime.sessions) as session:
        yield session


#: Seconds this process spent in the cyclic garbage collector, per generation (timed by
#: :func:`_time_gc`, installed once per process by :func:`create_service_app`).
_GC_SECONDS = [0.0, 0.0, 0.0]
_gc_started = 0.0


def _time_gc(phase: str, info: dict[str, Any]) -> None:
    global _gc_started
    if phase == "start":
        _gc_started = time.perf_counter()
    else:
        _GC_SECONDS[info["generation"]] += time.perf_counter() - _gc_started


def tune_gc(gen0_threshold: int) -> int:
    """Tune the cyclic garbage collector of a process that runs one service, once its
    startup is done; return how many objects are now frozen.

    Everything alive after startup (modules, routes, schemas, mappers, compiled
    statements) is moved out of the collector's reach (``gc.freeze``), so a full
    collection no longer walks it, and the young generation is collected after
    ``gen0_threshold`` net allocations instead of 700: with Python's settings intake and
    metrics spent 6-10 % of their CPU in the collector under load (docs/architecture.md,
    "Garbage collector"). Not for a process hosting several apps (tests): frozen objects
    are still freed by reference counting, but cycles among them are never collected.
    ``gen0_threshold`` 0 changes nothing.
    """
    if gen0_threshold > 0:
        gc.collect()
        gc.freeze()
        gc.set_threshold(gen0_threshold, *gc.get_threshold()[1:])
    return gc.get_freeze_count()


class _GcCollector:
    """The process's collector settings and the time it spent, read at scrape time
    (labelled with the service, as the kit's other figures are)."""

    def __init__(self, service: str) -> None:
        self.service = service

    def collect(self) -> Any:
        threshold = GaugeMetricFamily("motcua_gc_gen0_threshold",
                                      "Net allocations between young-generation collections",
                                      labels=["service"])
        threshold.add_metric([self.service], gc.get_threshold()[0])
        yield threshold
        frozen = GaugeMetricFamily("motcua_gc_frozen_objects",
                                   "Objects frozen out of the collector's reach at startup",
                                   labels=["service"])
        frozen.add_metric([self.service], gc.get_freeze_count())
        yield frozen
        seconds = CounterMetricFamily("motcua_gc", "Seconds spent in the cyclic garbage "
                                      "collector since the service started (with the "
                                      "collection before the freeze)",
                                      labels=["service", "generation"], unit="seconds")
        collections = CounterMetricFamily("motcua_gc_collections",
                                          "Collections of the cyclic garbage collector "
                                          "since the process started",
                                          labels=["service", "generation"])
        for generation, stats in enumerate(gc.get_stats()):
            seconds.add_metric([self.service, str(generation)], _GC_SECONDS[generation])
            collections.add_metric([self.service, str(generation)], stats["collections"])
        yield seconds
        yield collections


def _document_common_answers(app: FastAPI) -> None:
    """The app's OpenAPI lists, on every route of its routers, the answers no route
    decides itself: the 503s of :data:`motcua.errors.SERVER_PROBLEMS`; on a protected
    route its bearer token check's, 401 (token missing, invalid, expired) and 503
    (signing keys unavailable); on a route taking a body, 400 (malformed JSON), 413 (too
    large) and 422 (text the database cannot store). FastAPI's own 422 entry (JSON)
    becomes the problem+json one the app answers, and a public route's optional token is
    documented as optional. The codes join a route's own under the same status; what
    each route forbids (403) it documents itself."""
    from motcua.auth import (
        OPERATIONS,
        KeysUnavailable,
        TokenExpired,
        TokenInvalid,
        TokenMissing,
        access_of,
        api_routes,
    )

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("ProblemDoc", ProblemDoc.model_json_schema(
            ref_template="#/components/schemas/{model}"))
        for route in api_routes(app):
            if route.path in OPERATIONS:
                continue
            kinds = SERVER_PROBLEMS
            access = access_of(route)
            if access == "protected":
                kinds += (TokenMissing, TokenInvalid, TokenExpired, KeysUnavailable)
            for method in route.methods:
                operation = schema["paths"].get(route.path, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation["responses"]
                for entry in responses.values():
                    _problem_content_only(entry)
                if _is_fastapi_validation_entry(responses.get("422")):
                    del responses["422"]
                # Any request may meet the screen (an unknown query parameter).
                kinds_here = (*kinds, ValidationFailed)
                if "requestBody" in operation:
                    kinds_here += (MalformedBody, BodyTooLarge, TextNotStorable)
                document_in_schema(responses, *kinds_here)
                if access == "public" and operation.get("security"):
                    # A token is optional here (it may show more): no token is one way in.
                    operation["security"] = [{}, *operation["security"]]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _any_query() -> None:
    """Marks a route that reads its query string itself (:data:`ANY_QUERY`)."""


#: ``dependencies=[ANY_QUERY]``: the route reads its query string itself (a payment
#: gateway's signed return), so parameters it does not declare are not refused.
ANY_QUERY: Any = Depends(_any_query)


@dataclass(frozen=True)
class _Screening:
    """What the screen needs to know of a route, worked out once and kept on it."""

    #: Whether the route needs a token (it then answers 401 before the screen).
    protected: bool
    #: The query parameters it declares (its dependencies' too); None if it takes any.
    query_names: frozenset[str] | None
    #: Whether it reads a form (FastAPI has parsed it before the screen runs).
    reads_form: bool

    @classmethod
    def of(cls, route: Any) -> _Screening:
        if not hasattr(route, "dependant"):  # not a FastAPI route (a mount, a 404)
            return _NOT_A_ROUTE
        screening = getattr(route, "_motcua_screening", None)
        if screening is None:
            from motcua.auth import access_of

            screening = cls(protected=access_of(route) == "protected",
                            query_names=_query_names(route.dependant),
                            reads_form=isinstance(getattr(route.body_field, "field_info",
                                                          None), params.Form))
            route._motcua_screening = screening
        return screening  # type: ignore[no-any-return]


_NOT_A_ROUTE = _Screening(protected=False, query_names=None, reads_form=False)


def _query_names(dependant: Any) -> frozenset[str] | None:
    """The names of the query parameters of ``dependant`` and its dependencies; None if
    one of them is :data:`ANY_QUERY`."""
    found: set[str] = set()
    stack = [dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is _any_query:
            return None
        found.update(f.alias for f in dependant.query_params)
        stack.extend(dependant.dependencies)
    return frozenset(found)


async def _screen_request(request: Request) -> None:
    """What no route accepts, refused before any route reads it (422; on a protected
    route called without a token, the route's 401 comes first):

    * a query parameter the route does not declare (``field.unknown``), as an unknown
      body field is: a misspelt filter must not silently return everything;
    * a NUL character (U+0000) in the path, the query, a JSON body or a form's text
      fields (``field.nul_character``): PostgreSQL cannot store one in text, so it
      would fail deep in a transaction (or in another service, from an event) instead
      of here. Documents a route parses itself (YAML, CSV) are checked where they are
      parsed (:func:`motcua.errors.nul_characters`); anything else meets the database's
      refusal: 422 ``request.text_not_storable`` (:mod:`motcua.errors`, and on SQLite
      :mod:`motcua.db`), the transaction rolled back.
    """
    scope = request.scope
    # The router's own route: dependencies given to include_router() are not in its
    # dependant (none are today; with some, resolve it as auth.api_routes does).
    route = _Screening.of(scope.get("route"))
    if "authorization" not in request.headers and route.protected:
        return  # the route answers 401 first
    errors: list[FieldError] = []
    query = scope.get("query_string")
    if query:
        declared = route.query_names
        if declared is not None:
            errors += [FieldError(field=f"query.{name}", code="field.unknown",
                                  message="Unknown query parameter")
                       for name in sorted(set(request.query_params.keys()) - declared)]
        if b"%00" in query:
            errors.append(nul_character("query"))
    if b"%00" in scope.get("raw_path", b""):
        errors.append(nul_character("path"))
    if scope["method"] in ("POST", "PUT", "PATCH"):
        # The media type as FastAPI reads it. A file's bytes (an attachment) are not text
        # and are not looked at.
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json" or kind.endswith("+json"):
            body = await request.body()  # FastAPI has read it already: cached
            # A raw NUL byte: a body in UTF-16 or UTF-32, which json.loads also reads.
            if b"\x00" in body or _has_nul_escape(body):
                errors.append(nul_character("body"))
        elif route.reads_form:
            form = await request.form()  # FastAPI has parsed it for the route: cached
            errors += [nul_character(name) for name, value in form.multi_items()
                       if isinstance(value, str) and "\x00" in value]
    if errors:
        raise ValidationFailed(f"{len(errors)} field(s) invalid", errors=errors)


def _has_nul_escape(body: bytes) -> bool:
    """Whether a JSON text holds the escape of U+0000 (a raw NUL is not valid JSON):
    ``\\u0000`` preceded by an even number of backslashes (``\\\\u0000`` is a
    backslash and the text "u0000")."""
    at = body.find(b"\\u0000")
    while at != -1:
        start = at
        while start > 0 and body[start - 1] == 0x5C:
            start -= 1
        if (at - start) % 2 == 0:
            return True
        at = body.find(b"\\u0000", at + 1)
    return False


def _problem_content_only(entry: dict[str, Any]) -> None:
    """A problem entry (``errors.problems``) is answered as problem+json only: FastAPI
    files the entry's model under ``application/json``; move it."""
    content = entry.get("content", {})
    if PROBLEM_JSON in content and "application/json" in content:
        content[PROBLEM_JSON] = content.pop("application/json")


def _is_fastapi_validation_entry(entry: dict[str, Any] | None) -> bool:
    """Whether a 422 entry is FastAPI's default (``HTTPValidationError`` as JSON): every
    validation error is answered as problem+json (:mod:`motcua.errors`)."""
    if entry is None:
        return False
    ref = entry.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    return ref == "#/components/schemas/HTTPValidationError"


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
RuntimeDep = Annotated[Runtime, Depends(runtime)]


class _PipelineCollector:
    """Outbox backlog and consumer figures, read at scrape time."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Any:
        service = self.rt.settings.service
        backlog = GaugeMetricFamily("motcua_outbox_backlog", "Unpublished outbox rows",
                                    labels=["service"])
        backlog.add_metric([service], self.rt.relay.backlog)
        yield backlog
        published = CounterMetricFamily("motcua_outbox_published", "Events published",
                                        labels=["service"])
        published.add_metric([service], self.rt.relay.published_total)
        yield published
        lag = GaugeMetricFamily("motcua_consumer_lag", "Messages not yet acked by a durable",
                                labels=["service", "durable"])
        counts = CounterMetricFamily("motcua_consumer_messages", "Messages handled",
                                     labels=["service", "durable", "outcome"])
        waits = CounterMetricFamily(
            "motcua_consumer_database_waits",
            "Tries of a batch the database could not take (held, not counted as failures)",
            labels=["service", "durable"])
        reruns = CounterMetricFamily(
            "motcua_consumer_batch_reruns",
            "Batches whose one transaction failed and that ran again message by message "
            "(a failing message, one alone included, or a transient abort such as a "
            "deadlock; each try of a batch whose rerun met a database outage)",
            labels=["service", "durable"])
        for c in self.rt.consumers:
            lag.add_metric([service, c.name], c.stats.pending)
            for outcome in ("processed", "duplicates", "failed", "dead_lettered"):
                counts.add_metric([service, c.name, outcome], getattr(c.stats, outcome))
            waits.add_metric([service, c.name], c.stats.database_waits)
            reruns.add_metric([service, c.name], c.stats.reruns)
        yield lag
        yield counts
        yield waits
        yield reruns


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    handlers: dict[str, dict[str, Handler]] | None = None,
    batch_handlers: dict[str, BatchHandler] | None = None,
    background: Sequence[Callable[[Runtime], Awaitable[None]]] = (),
    fault_hook: FaultHook | None = None,
    version: str = "0.1.0",
) -> FastAPI:
    """A FastAPI app for one service.

    ``handlers`` maps durable name → event type → handler; ``batch_handlers`` maps a
    durable name to a handler of a whole batch with the same effect (see
    :mod:`motcua.consumer`). ``background`` are loops the
    service runs for its lifetime (timers, reconciliation), each given the runtime and
    cancelled at shutdown; they must survive their own failures and be safe with several
    replicas (claim work in the database).
    """
    configure_logging(settings.log_level, json=settings.log_json)
    handlers = handlers or {}
    unknown = set(handlers) - {c.durable for c in CONSUMERS if c.owner == settings.service}
    if unknown:
        raise ValueError(f"handlers for consumers not in the topology: {sorted(unknown)}")
    for spec in CONSUMERS:
        never = [t for t in handlers.get(spec.durable, {}) if t in REGISTRY
                 and not spec.receives(REGISTRY[t].subject(settings.province), settings.province)]
        if never:
            raise ValueError(f"{spec.durable}'s filters never deliver {sorted(never)}")
    batch_handlers = batch_handlers or {}
    if set(batch_handlers) - set(handlers):
        raise ValueError("batch handlers for consumers without per-event handlers: "
                         f"{sorted(set(batch_handlers) - set(handlers))}")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url(),
                               pool_size=settings.database_pool_size,
                               side_pool_size=settings.database_side_pool_size)
        bus = Bus(settings.nats_url, name=f"motcua-{settings.service}")
        relay_ref: list[Relay] = []
        sessions = session_factory(engine, relay_wake=lambda: relay_ref[0].wake())
        relay = Relay(engine, sessions, bus, batch=settings.relay_batch,
                      idle_poll_s=settings.relay_idle_poll_s,
                      max_backoff_s=settings.relay_max_backoff_s, fault_hook=fault_hook)
        relay_ref.append(relay)
        rt = Runtime(settings, engine, sessions, bus, relay)
        for spec in CONSUMERS:
            if spec.durable in handlers:
                rt.consumers.append(ConsumerRunner(
                    spec, province=settings.province, bus=bus, sessions=sessions,
                    handlers=handlers[spec.durable],
                    batch_handler=batch_handlers.get(spec.durable),
                    max_deliver=settings.consumer_max_deliver,
                    backoff_s=settings.consumer_backoff_s, batch=settings.consumer_batch,
                    txn_batch=settings.consumer_txn_batch))
        rt.registry.register(_PipelineCollector(rt))
        rt.registry.register(_GcCollector(settings.service))
        if _time_gc not in gc.callbacks:
            gc.callbacks.append(_time_gc)
        app.state.runtime = rt
        app.state.metrics_registry = rt.registry
        await relay.count_backlog()
        rt.tasks.append(asyncio.create_task(bus.run(), name="bus"))
        rt.tasks.append(asyncio.create_task(relay.run(), name="relay"))
        for c in rt.consumers:
            rt.tasks.append(asyncio.create_task(c.run(), name=f"consumer:{c.name}"))
        for loop in background:
            rt.tasks.append(asyncio.create_task(loop(rt), name=f"background:{loop.__name__}"))
        if getattr(app.state, "own_process", False):  # set by `motcua serve`
            frozen = tune_gc(settings.gc_gen0_threshold)
            log.info("gc_tuned", gen0_threshold=gc.get_threshold()[0], frozen_objects=frozen)
        log.info("service_started", service=settings.service, province=settings.province)
        try:
            yield
        finally:
            await stop_tasks(rt.tasks)
            await bus.close()
            await engine.dispose()
            log.info("service_stopped", service=settings.service)

    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan,
                  dependencies=[Depends(_screen_request)])
    app.state.settings = settings
    install_problem_handlers(app)
    for router in routers:
        app.include_router(router)
    app.include_router(_ops_router())
    _document_common_answers(app)
    app.state.http_registry = CollectorRegistry()
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(InFlightLimitMiddleware, limit=settings.max_requests_in_flight,
                       registry=app.state.http_registry, service=settings.service)
    app.add_middleware(MetricsMiddleware, registry=app.state.http_registry,
                       service=settings.service)
    app.add_middleware(RequestContextMiddleware,
                       database_wait_s=settings.database_request_wait_s)
    return app


def _ops_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness", operation_id="healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers. Public."""
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness (database and NATS)", operation_id="readyz",
                responses={503: {"description": "Not ready"}})
    async def readyz(rt: RuntimeDep) -> JSONResponse:
        """Readiness: the database answers and NATS is connected. Public."""
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(ping(rt.engine), timeout=2)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"down: {type(exc).__name__}"
        checks["nats"] = "ok" if rt.bus.connected else "down"
        for c in rt.consumers:
            checks[f"consumer:{c.name}"] = "ok" if c.bound else "not bound"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                            status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", operation_id="metrics",
                response_class=Response)
    async def metrics(request: Request) -> Response:
        """Prometheus exposition. Public within the cluster network (no personal data)."""
        body = generate_latest(request.app.state.http_registry) + generate_latest(
            request.app.state.metrics_registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router
