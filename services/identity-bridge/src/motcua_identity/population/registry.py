"""Adapters to the National Population Database.

:class:`PopulationRegistry` is the interface; :class:`HttpPopulationRegistry` talks to a
provincial gateway of the national database; :class:`LocalPopulationRegistry` serves
synthetic citizens for development and tests (refused in production by the settings).

The HTTP wire format (the national one is not public; this is our working contract)::

    POST <population_url>
    X-Client-Id: <population_client_id>
    Authorization: Bearer <population_api_key>
    {"SoDinhDanh": "...", "MucDich": "<purpose>", "MaHoSo": "<dossier or null>"}

    200 {"SoDinhDanh", "HoVaTen", "NgayThangNamSinh" (YYYY-MM-DD or DD/MM/YYYY),
         "GioiTinh" (1 male, 2 female), "NoiThuongTru", "QueQuan"}
    404 not found
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from motcua.errors import Problem
from motcua.guard import CallGuard, CallRefused

SAMPLE = Path(__file__).with_name("sample_citizens.json")


class PopulationUnavailable(Problem):
    status = 503
    code = "population.unavailable"
    title = "The population database could not be reached"


class PopulationBusy(PopulationUnavailable):
    code = "population.busy"
    title = "Every lookup this service makes at once is waiting for the population database"


class PopulationPaused(PopulationUnavailable):
    code = "population.paused"
    title = "Lookups are paused after repeated failures of the population database"


@dataclass(frozen=True)
class CitizenRecord:
    """What the population database says about a citizen."""

    personal_id: str
    full_name: str
    birth_date: date | None
    gender: str | None  # male | female
    permanent_address: str | None
    place_of_origin: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        out = asdict(self)
        out["birth_date"] = self.birth_date.isoformat() if self.birth_date else None
        return out


class PopulationRegistry(Protocol):
    """Finds a citizen by personal ID."""

    name: str

    async def find(self, personal_id: str, *, purpose: str,
                   dossier_code: str | None) -> CitizenRecord | None:
        """The record, None when unknown; PopulationUnavailable when it cannot answer."""
        ...


def parse_date(value: object) -> date | None:
    """``YYYY-MM-DD`` or ``DD/MM/YYYY`` (both are seen in Vietnamese systems)."""
    if not isinstance(value, str) or not value:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%Y%m%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def _record(raw: dict[str, Any]) -> CitizenRecord:
    gender = {"1": "male", "2": "female", 1: "male", 2: "female"}.get(raw.get("GioiTinh"))
    return CitizenRecord(personal_id=str(raw["SoDinhDanh"]), full_name=str(raw["HoVaTen"]),
                         birth_date=parse_date(raw.get("NgayThangNamSinh")), gender=gender,
                         permanent_address=raw.get("NoiThuongTru"),
                         place_of_origin=raw.get("QueQuan"))


class LocalPopulationRegistry:
    """Synthetic citizens from a JSON file (a list in the HTTP answer's format)."""

    name = "local"

    def __init__(self, path: Path | None = None) -> None:
        rows = json.loads((path or SAMPLE).read_text(encoding="utf-8"))
        self._citizens = {str(r["SoDinhDanh"]): _record(r) for r in rows}

    async def find(self, personal_id: str, *, purpose: str,
                   dossier_code: str | None) -> CitizenRecord | None:
        """The synthetic citizen."""
        return self._citizens.get(personal_id)


class HttpPopulationRegistry:
    """A population-database gateway over HTTPS."""

    name = "http"

    def __init__(self, url: str, *, client_id: str, api_key: str | None,
                 timeout_s: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url
        self._headers = {"accept": "application/json", "x-client-id": client_id}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._timeout = timeout_s
        self._transport = transport

    async def find(self, personal_id: str, *, purpose: str,
                   dossier_code: str | None) -> CitizenRecord | None:
        """Ask the gateway."""
        body = {"SoDinhDanh": personal_id, "MucDich": purpose, "MaHoSo": dossier_code}
        try:
            async with httpx.AsyncClient(transport=self._transport,
                                         timeout=self._timeout) as http:
                response = await http.post(self.url, json=body, headers=self._headers)
            if response.status_code == 404:
                return None
            response.raise_for_status()
            return _record(response.json())
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise PopulationUnavailable("the population database did not answer",
                                        retry_after=5) from exc


def judge(exc: BaseException) -> bool | None:
    """For the guard: PopulationUnavailable is the database failing; the rest is not its
    doing."""
    return True if isinstance(exc, PopulationUnavailable) else None


class GuardedPopulationRegistry:
    """A registry behind a :class:`motcua.guard.CallGuard`: a refused lookup is answered
    503 ``population.busy`` or ``population.paused`` with Retry-After, nothing asked."""

    def __init__(self, inner: PopulationRegistry, guard: CallGuard) -> None:
        self.inner = inner
        self.guard = guard
        self.name = inner.name

    async def find(self, personal_id: str, *, purpose: str,
                   dossier_code: str | None) -> CitizenRecord | None:
        """Ask the inner registry, if the guard lets the call through."""
        try:
            call = self.guard.call()
        except CallRefused as exc:
            raise exc.problem(PopulationBusy, PopulationPaused,
                              nothing_done="Nothing was asked") from exc
        async with call:
            return await self.inner.find(personal_id, purpose=purpose,
                                         dossier_code=dossier_code)
