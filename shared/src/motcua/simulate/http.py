"""How the simulator reaches the mesh: one httpx client per service, every answer counted.

Every call names the service and the route template it hits (``/v1/dossiers/{code}``),
so the summary can say which requests were made and which failed. An answer outside the
expected statuses is recorded as a :class:`Failure` (status, problem ``code``, detail)
and raised as :class:`ApiError`; the simulator never hides one. Connection errors and
``503`` (a service shedding load) are retried with the same ``Idempotency-Key``, so a
retried POST is applied once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

#: The services of a mesh, as the simulator names them.
SERVICES = ("intake", "workflow", "payments", "identity-bridge", "metrics")
#: Outside systems the simulator's "browser" talks to.
BROWSER = "browser"


@dataclass(frozen=True)
class Failure:
    """One answer the simulator did not expect."""

    service: str
    method: str
    route: str
    status: int | None
    code: str | None
    detail: str | None
    dossier: str | None = None

    def line(self) -> str:
        """One line for the summary."""
        status = self.status if self.status is not None else "no answer"
        where = f" [{self.dossier}]" if self.dossier else ""
        return (f"{self.service} {self.method} {self.route} → {status} "
                f"{self.code or ''} {self.detail or ''}".rstrip() + where)


class ApiError(Exception):
    """An unexpected answer (or none) from a service."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.line())
        self.failure = failure


@dataclass
class HttpStats:
    """Requests made and answers received, per service and route."""

    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    #: Answers ≥ 400 that were retried and then succeeded, or were expected (none today).
    retried: int = 0

    def record(self, service: str, method: str, route: str, status: int | None) -> None:
        """Count one request and its answer."""
        self.requests[(service, method, route)] += 1
        if status is not None:
            self.statuses[(service, status)] += 1

    @property
    def total(self) -> int:
        """Requests made."""
        return sum(self.requests.values())

    def errors(self) -> Counter[tuple[str, int]]:
        """Answers 4xx/5xx per service and status (retried ones included)."""
        return Counter({k: v for k, v in self.statuses.items() if k[1] >= 400})

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view."""
        per_service: Counter[str] = Counter()
        for (service, _, _), n in self.requests.items():
            per_service[service] += n
        return {
            "total": self.total,
            "per_service": dict(per_service),
            "per_route": [{"service": s, "method": m, "route": r, "count": n}
                          for (s, m, r), n in sorted(self.requests.items())],
            "errors": [{"service": s, "status": st, "count": n}
                       for (s, st), n in sorted(self.errors().items())],
            "failures": [f.__dict__ for f in self.failures],
        }


@dataclass
class Targets:
    """Where the services are: an httpx client per service (its ``base_url`` set) and a
    "browser" for absolute URLs (the identity provider's and the gateway's pages, and the
    redirects back to the mesh)."""

    clients: Mapping[str, httpx.AsyncClient]
    browser: httpx.AsyncClient
    owned: list[httpx.AsyncClient] = field(default_factory=list)

    @classmethod
    def from_urls(cls, urls: Mapping[str, str], *, timeout: float = 30.0) -> Targets:
        """Clients for services listening at ``urls`` (service name → base URL)."""
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        clients = {name: httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits)
                   for name, url in urls.items()}
        browser = httpx.AsyncClient(timeout=timeout, limits=limits)
        return cls(clients, browser, owned=[*clients.values(), browser])

    async def aclose(self) -> None:
        """Close the clients this object opened."""
        for client in self.owned:
            await client.aclose()


def _problem(response: httpx.Response) -> tuple[str | None, str | None]:
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200] or None
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("title")
        errors = body.get("errors")
        if errors:
            detail = f"{detail} {errors}"
        return body.get("code"), str(detail)[:300] if detail else None
    return None, None


def new_key() -> str:
    """A fresh Idempotency-Key."""
    return str(uuid.uuid4())


class Api:
    """Calls services and records every answer in :class:`HttpStats`."""

    def __init__(self, targets: Targets, stats: HttpStats, *, retries: int = 4,
                 backoff_s: float = 0.25) -> None:
        self.targets = targets
        self.stats = stats
        self.retries = retries
        self.backoff_s = backoff_s

    async def call(self, service: str, method: str, path: str, *, route: str | None = None,
                   token: str | None = None, json: Any = None,
                   params: Mapping[str, Any] | None = None, data: Any = None,
                   files: Any = None, key: str | None = None, ok: Iterable[int] = (200, 201),
                   dossier: str | None = None, correlation: str | None = None,
                   follow_redirects: bool = False, retry: bool | None = None
                   ) -> httpx.Response:
        """One request; ``ok`` are the statuses that count as success.

        ``service`` is a service name (``path`` relative to its base URL) or
        :data:`BROWSER` (``path`` absolute). ``key`` is sent as ``Idempotency-Key``;
        requests are retried on connection errors, 502 and 503 only when they are safe to
        repeat (GET, a key, or ``retry=True``). Retried answers stay counted.
        """
        route = route or path
        client = self.targets.browser if service == BROWSER else self.targets.clients[service]
        headers: dict[str, str] = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["Idempotency-Key"] = key
        if correlation:
            headers["X-Correlation-ID"] = correlation
        repeatable = retry if retry is not None else (method == "GET" or key is not None)
        accepted = set(ok)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await client.request(method, path, headers=headers, json=json,
                                                params=params, data=data, files=files,
                                                follow_redirects=follow_redirects)
            except httpx.TransportError as exc:
                self.stats.record(service, method, route, None)
                if repeatable and attempt <= self.retries:
                    self.stats.retried += 1
                    await asyncio.sleep(self.backoff_s * attempt)
                    continue
                failure = Failure(service, method, route, None, None,
                                  f"{type(exc).__name__}: {exc}"[:300], dossier)
                self.stats.failures.append(failure)
                raise ApiError(failure) from exc
            except Exception as exc:
                # An in-process app's own exception (ASGI transport): the service broke.
                self.stats.record(service, method, route, None)
                failure = Failure(service, method, route, None, None,
                                  f"{type(exc).__name__}: {exc}"[:300], dossier)
                self.stats.failures.append(failure)
                raise ApiError(failure) from exc
            self.stats.record(service, method, route, response.status_code)
            if response.status_code in accepted:
                return response
            if response.status_code in (502, 503) and repeatable and attempt <= self.retries:
                self.stats.retried += 1
                await asyncio.sleep(self.backoff_s * attempt)
                continue
            code, detail = _problem(response)
            failure = Failure(service, method, route, response.status_code, code, detail,
                              dossier)
            self.stats.failures.append(failure)
            raise ApiError(failure)

    async def json(self, service: str, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`call`, answering the JSON body."""
        return (await self.call(service, method, path, **kwargs)).json()
