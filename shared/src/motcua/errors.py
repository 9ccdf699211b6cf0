"""RFC 9457 problem details with stable codes.

Exception tree::

    Problem                      any error a client can cause (4xx); carries a stable code
    ├── NotFound                 404 <thing>.not_found
    ├── Conflict                 409
    ├── Unprocessable            422 (business rule refused the request)
    └── ... one subclass per condition in each service's ``errors.py``

Everything a client sends that FastAPI rejects (malformed JSON, wrong types, unknown
fields) is mapped here too, and anything unexpected becomes a 500 without a stack trace.
"""

from __future__ import annotations

import errno
import socket
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from motcua.logging import get_logger

PROBLEM_JSON = "application/problem+json"
log = get_logger("motcua.errors")


class FieldError(BaseModel):
    """One offending field: where it is, what is wrong, a stable code."""

    model_config = ConfigDict(extra="forbid")
    field: str
    code: str
    message: str


def nul_character(where: str) -> FieldError:
    """``field.nul_character`` at ``where``: U+0000, which PostgreSQL cannot store in text."""
    return FieldError(field=where, code="field.nul_character",
                      message="NUL characters (U+0000) are not accepted")


def nul_characters(value: Any, where: str) -> list[FieldError]:
    """``field.nul_character`` for every string (or mapping key) holding U+0000 in a
    parsed document (mappings, lists, scalars), each named by its dotted path. A node
    reached twice (a YAML alias) is looked at once, at its first path; a node inside
    itself ends the walk there."""
    found: list[FieldError] = []
    seen: set[int] = set()
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                found.append(nul_character(path))
            continue
        if not isinstance(node, dict | list | tuple) or id(node) in seen:
            continue
        seen.add(id(node))
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in reversed(list(items)):  # popped in document order
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                found.append(nul_character(here))
            stack.append((item, here))
    return found


class ProblemDoc(BaseModel):
    """RFC 9457 problem details as Motcua returns them."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class Problem(Exception):
    """An error a client can cause, answered as problem+json with a stable ``code``."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "request.invalid"
    title: ClassVar[str] = "Invalid request"

    def __init__(self, detail: str | None = None, *, errors: list[FieldError] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors
        self.extra = extra

    def to_body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem document."""
        body: dict[str, Any] = {
            "type": f"https://motcua.dev/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [e.model_dump() for e in self.errors]
        body.update(self.extra)
        return body


class NotFound(Problem):
    status = 404
    code = "resource.not_found"
    title = "Not found"


class Conflict(Problem):
    status = 409
    code = "resource.conflict"
    title = "Conflict"


class Unprocessable(Problem):
    status = 422
    code = "request.unprocessable"
    title = "Request cannot be processed"


class ValidationFailed(Problem):
    status = 422
    code = "request.validation_failed"
    title = "Request validation failed"


class MalformedBody(Problem):
    status = 400
    code = "request.malformed_json"
    title = "Request body is not valid JSON"


class TextNotStorable(Problem):
    """The database refused a text value of the request (U+0000) that neither the screen
    at the door (``motcua.service._screen_request``) nor the route's own parsing saw:
    PostgreSQL's SQLSTATE 22021/22P05, or the same refusal on SQLite
    (``motcua.db.NulInText``)."""

    status = 422
    code = "request.text_not_storable"
    title = "The request holds text the database cannot store (a NUL character)"


class BodyTooLarge(Problem):
    status = 413
    code = "request.too_large"
    title = "Request body too large"


class Unauthorized(Problem):
    status = 401
    code = "auth.unauthenticated"
    title = "Authentication required"


class Forbidden(Problem):
    status = 403
    code = "auth.forbidden"
    title = "Not allowed"


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    """Render a Problem as an ``application/problem+json`` response."""
    instance = request.url.path if request is not None else None
    headers: dict[str, str] = {}
    if "retry_after" in problem.extra:
        headers["Retry-After"] = str(problem.extra["retry_after"])
    if problem.status == 401:
        # RFC 6750: tell the client which scheme to use and why the token was refused.
        headers["WWW-Authenticate"] = (
            f'Bearer error="invalid_token", error_description="{problem.code}"')

    return JSONResponse(problem.to_body(instance), status_code=problem.status,
                        media_type=PROBLEM_JSON, headers=headers or None)


def problems(*kinds: type[Problem]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entry documenting the problems a route may answer."""
    out: dict[int | str, dict[str, Any]] = {}
    for kind in (*kinds, ValidationFailed):
        entry = out.setdefault(kind.status, {"model": ProblemDoc, "description": ""})
        _list_code(entry, kind.code)
        entry["content"] = {PROBLEM_JSON: {}}
    return out


def document_in_schema(responses: dict[str, Any], *kinds: type[Problem]) -> None:
    """Add ``kinds`` to the ``responses`` of an operation in a generated OpenAPI schema
    (the codes join those already listed under the same status)."""
    for kind in kinds:
        entry = responses.setdefault(str(kind.status), {
            "description": "", "content": {PROBLEM_JSON: {"schema": {
                "$ref": "#/components/schemas/ProblemDoc"}}}})
        _list_code(entry, kind.code)


def _list_code(entry: dict[str, Any], code: str) -> None:
    """A response entry's description lists its problem codes, comma-separated."""
    codes = [c for c in entry.get("description", "").split(", ") if c]
    if code not in codes:
        codes.append(code)
    entry["description"] = ", ".join(codes)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where, rest = parts[0], parts[1:]
        return ".".join(rest) if where == "body" and rest else ".".join([where, *rest])
    return ".".join(parts)


_CODES = {
    "missing": "field.required",
    "extra_forbidden": "field.unknown",
    "string_too_long": "field.too_long",
    "string_too_short": "field.too_short",
    "string_pattern_mismatch": "field.pattern",
    "literal_error": "field.not_allowed",
    "enum": "field.not_allowed",
}


def _field_code(kind: str) -> str:
    if kind in _CODES:
        return _CODES[kind]
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return "field.wrong_type"
    return f"field.{kind}"


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(MalformedBody(str(errors[0].get("ctx", {}).get("error", ""))
                                              or None), request)
    fields = [FieldError(field=_field_path(tuple(e.get("loc", ()))) or "body",
                         code=_field_code(e.get("type", "invalid")), message=e.get("msg", ""))
              for e in errors]
    return problem_response(ValidationFailed(f"{len(fields)} field(s) invalid", errors=fields),
                            request)


async def _on_problem(request: Request, exc: Problem) -> JSONResponse:
    return problem_response(exc, request)


async def _on_http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    if status == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI's answer to a JSON body that is not UTF-8: malformed JSON (RFC 8259 §8.1).
        return problem_response(MalformedBody("the body is not UTF-8"), request)
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    code = "http." + title.lower().replace(" ", "_").replace("-", "_")
    problem = Problem(exc.detail if isinstance(exc.detail, str) and exc.detail != title else None)
    body = problem.to_body(request.url.path) | {"status": status, "code": code, "title": title,
                                               "type": f"https://motcua.dev/problems/{code}"}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON,
                        headers=getattr(exc, "headers", None))


class ServiceBusy(Problem):
    status = 503
    code = "service.busy"
    title = "Service is busy; retry shortly"


async def _on_pool_timeout(request: Request, exc: Exception) -> JSONResponse:
    # A request waits for a connection at most database_request_wait_s
    # (motcua.db.waiting_at_most): an overloaded service sheds load here.
    log.warning("database_pool_exhausted", path=request.url.path)
    return problem_response(ServiceBusy(
        "No database connection came free in time: the transaction in progress was not "
        "applied. Retry after the delay given (a POST with the same Idempotency-Key).",
        retry_after=1), request)


class DatabaseUnavailable(Problem):
    status = 503
    code = "database.unavailable"
    title = "Database unavailable; retry shortly"


class DatabaseOutcomeUnknown(Problem):
    """The connection was lost during the COMMIT (``motcua.service.get_session``)."""

    status = 503
    code = "database.outcome_unknown"
    title = "Database connection lost while committing; the request may have been applied"

    def __init__(self) -> None:
        # No Retry-After: a blind retry could apply the request twice.
        super().__init__("Retry only with the same Idempotency-Key (which replays the "
                         "original answer if it was applied), or look the result up first.")


#: What any request may meet when the service or its database cannot serve it for now:
#: 503 ``service.busy``, ``database.unavailable`` (both with Retry-After) and
#: ``database.outcome_unknown`` (without: the request may have been applied).
#: ``create_service_app`` lists them on every route of its routers.
SERVER_PROBLEMS: tuple[type[Problem], ...] = (ServiceBusy, DatabaseUnavailable,
                                              DatabaseOutcomeUnknown)

#: SQLSTATEs of a database refusing work for now, the transaction in progress not
#: applied: class 53 (insufficient resources: too many connections, out of memory, disk
#: full) and 57P03 (starting up or shutting down). A handler that committed an earlier
#: transaction in the same request keeps that one.
_REFUSING = ("53", "57P03")
#: SQLSTATEs of text the database cannot store (character not in repertoire,
#: untranslatable character): the client's data, the transaction rolled back.
_NOT_STORABLE = ("22021", "22P05")


def _unavailable(request: Request, event: str, why: str, **fields: Any) -> JSONResponse:
    """503 database.unavailable with Retry-After, logged as ``event``."""
    log.warning(event, path=request.url.path, **fields)
    return problem_response(DatabaseUnavailable(
        f"{why}: the transaction in progress was not applied. Retry.", retry_after=1),
        request)


async def _on_database_error(request: Request, exc: DBAPIError) -> JSONResponse:
    state = getattr(exc.orig, "sqlstate", None)
    if state in _NOT_STORABLE:
        return problem_response(TextNotStorable(), request)
    if isinstance(state, str) and state.startswith(_REFUSING):
        return _unavailable(request, "database_refused", "The database refused the request "
                            "for now (no connection free, or it is starting or stopping)",
                            sqlstate=state)
    if not exc.connection_invalidated:
        raise exc  # to the 500 handler, as any unexpected error
    # The connection was lost before the COMMIT (a database restart, a dropped link), so
    # nothing of the request was applied. Pools do not ping before each checkout
    # (motcua.db.create_engine), so this is how a restart shows: SQLAlchemy has already
    # marked every older connection of the pool for replacement, and the retry gets a
    # fresh one.
    return _unavailable(request, "database_connection_lost",
                        "The database connection was lost before the request was committed",
                        error_type=type(exc.orig).__name__)


#: Why a connection could not be opened, by errno (besides a refused connection).
_UNREACHABLE = {errno.ENETUNREACH: "no route to the network",
                errno.EHOSTUNREACH: "no route to the host",
                errno.ETIMEDOUT: "the connection did not open in time"}


def _unreachable(exc: OSError) -> str | None:
    """Why a connection could not be opened, if ``exc`` is such an error.

    Raised as is (not wrapped by SQLAlchemy) when the pool cannot open a connection to
    the database server: refused, an unknown host name, no route. The HTTP clients wrap
    theirs (httpx.ConnectError), so in a request it is the database. Any other OSError
    (a file, the attachment store; a TimeoutError without an errno, which is one too) is
    not. The driver's own connect timeout has none: motcua.db gives it ETIMEDOUT."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host name"
    if exc.errno in _UNREACHABLE:
        return _UNREACHABLE[exc.errno]
    if exc.errno is None and str(exc).startswith("Multiple exceptions:"):
        # asyncio's connect, when every address of the host failed differently.
        return "no address of the host answered"
    return None


async def _on_unreachable(request: Request, exc: OSError) -> JSONResponse:
    why = _unreachable(exc)
    if why is None:
        raise exc  # to the 500 handler
    return _unavailable(request, "database_unreachable",
                        f"The database could not be reached ({why})",
                        error_type=type(exc).__name__)


def database_unavailable(exc: BaseException) -> str | None:
    """Why the database cannot serve for now, if ``exc`` is an error that says so (what
    requests answer with 503 ``service.busy`` or ``database.unavailable``): no pooled
    connection free in time, the server refusing work (SQLSTATE class 53, 57P03), the
    connection lost, or the server unreachable. None for any other error (the data's,
    the code's). A transaction that met one was not applied, or if the connection was
    lost during its COMMIT, perhaps was: only an idempotent retry is safe."""
    if isinstance(exc, SATimeoutError):
        return "no database connection free in time"
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_REFUSING):
            return f"the database refused the request for now (SQLSTATE {state})"
        return "the database connection was lost" if exc.connection_invalidated else None
    if isinstance(exc, OSError):
        why = _unreachable(exc)
        return None if why is None else f"the database could not be reached ({why})"
    return None


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_error", path=request.url.path, error_type=type(exc).__name__,
              exc_info=exc)
    body = {"type": "https://motcua.dev/problems/internal", "title": "Internal error",
            "status": 500, "code": "internal", "instance": request.url.path}
    return JSONResponse(body, status_code=500, media_type=PROBLEM_JSON)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error as problem+json."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Problem, _on_problem)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)  # type: ignore[arg-type]
    # Overload (no database connection free in time) is not a bug: 503 with Retry-After.
    app.add_exception_handler(SATimeoutError, _on_pool_timeout)
    app.add_exception_handler(DBAPIError, _on_database_error)  # type: ignore[arg-type]
    app.add_exception_handler(OSError, _on_unreachable)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)
