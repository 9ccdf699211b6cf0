"""Every operation of the five services, fuzzed from its own OpenAPI by schemathesis.

Schemathesis generates requests from each service's published schema, valid ones and
ones that break it (wrong types, unknown fields and query parameters, missing token,
bytes that are not JSON), and checks every answer: never a server error, only
documented status codes and content types, bodies matching their documented schema,
and an invalid request refused. The caller is an officer holding every role in the
sample agencies, or nobody where the case drops the token.

The services run in-process on the test's event loop against a real nats-server and
database; Hypothesis runs in a worker thread and hands each request to that loop.
Examples are derandomized: the same requests every run (schemathesis' CLI against
``motcua up`` explores further; README, "Two commands").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi import checks

from motcua.testing import Mesh
from tests.e2e.helpers import staff_headers, start_slice

SERVICES = ("intake", "workflow", "payments", "identity-bridge", "metrics")
CHECKS = [checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.negative_data_rejection]
#: Examples per operation and mode.
EXAMPLES = 8

Send = Callable[[dict[str, Any]], httpx.Response]


def _file_part(part: Any) -> Any:
    """A multipart part httpx accepts: a generated value that is not bytes (a negative
    case's number) is sent as its text, as requests would."""
    def raw(value: Any) -> Any:
        return value if isinstance(value, (bytes, str)) or hasattr(value, "read") else str(value)

    return (part[0], raw(part[1]), *part[2:]) if isinstance(part, tuple) else raw(part)


def _send(client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop,
          kwargs: dict[str, Any]) -> httpx.Response:
    """Send schemathesis' requests-style ``kwargs`` through ``client`` on ``loop``."""
    kwargs.pop("auth", None)
    data = kwargs.pop("data", None)
    if isinstance(data, (bytes, str)):
        kwargs["content"] = data
    elif data is not None:
        kwargs["data"] = data
    if not kwargs.get("cookies"):
        kwargs.pop("cookies", None)
    if kwargs.get("files"):
        files = kwargs["files"]
        kwargs["files"] = [(name, _file_part(part)) for name, part in
                           (files.items() if isinstance(files, dict) else files)]
    request = client.build_request(kwargs.pop("method"), kwargs.pop("url"), **kwargs)
    request.read()  # a multipart body is streamed; the checks read it again
    return asyncio.run_coroutine_threadsafe(client.send(request), loop).result(timeout=60)


def _summary(error: BaseException) -> str:
    """Schemathesis' report of a failure, on one line: what failed, the answer's start,
    and the curl command reproducing it."""
    keep = [line.strip() for line in str(error).splitlines()
            if line.strip().startswith(("- ST", "Received", "Documented", "Expected",
                                        "Invalid", "- query", "- body", "- header",
                                        "- path", "`", "curl"))]
    return " | ".join(keep)[:900] or str(error)[:900]


def _fuzz_operation(operation: Any, mode: GenerationMode, send: Send,
                    token: dict[str, str], failures: list[str]) -> None:
    label = f"{operation.label} ({mode.value})"

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        header = case.meta.components.get(ParameterLocation.HEADER)
        # A case whose headers are made invalid may be the one without a token.
        headers = None if header and header.mode is GenerationMode.NEGATIVE else token
        response = send(case.as_transport_kwargs(base_url="http://svc", headers=headers))
        if response.status_code >= 500:
            failures.append(f"{label}: {response.status_code} {response.text[:300]}")
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, FailureGroup) as error:
            failures.append(f"{label}: {_summary(error)}")

    try:
        run()
    except Unsatisfiable:
        # Nothing in the operation can be made invalid (no parameters, no body).
        assert mode is GenerationMode.NEGATIVE, label


def _fuzz(schema: Any, send: Send, token: dict[str, str]) -> tuple[int, list[str]]:
    """Fuzz every operation in both modes: how many operations, and the failures."""
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(operation, mode, send, token, failures)
    return len(operations), failures


@pytest.mark.parametrize("service", SERVICES)
async def test_no_generated_request_meets_a_server_error_or_an_undocumented_answer(
        mesh: Mesh, service: str) -> None:
    started = (await start_slice(mesh, *dict.fromkeys(("intake", service))))[service]
    schema = schemathesis.openapi.from_dict(started.app.openapi())
    loop = asyncio.get_running_loop()
    # No default headers: each case decides whether a token is sent.
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=started.manager.app),
                               base_url="http://svc")

    def send(kwargs: dict[str, Any]) -> httpx.Response:
        return _send(client, loop, kwargs)

    async with client:
        count, failures = await asyncio.to_thread(_fuzz, schema, send, staff_headers(mesh))
    assert count >= 10, count
    assert failures == [], "\n".join(failures[:40])
