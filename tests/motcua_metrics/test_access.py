"""Who may call what in metrics: published aggregates are public, dossier-level data is
for readers (officers with auditor / agency_admin / approver of the agency, services with
``metrics.read``), and officers see only their agencies."""

from __future__ import annotations

import httpx
import pytest

from motcua.auth import access_of, api_routes, undeclared_routes
from motcua.testing import Mesh, RunningService
from motcua_metrics.config import Settings
from motcua_metrics.main import create_app
from tests.motcua_metrics import scenario
from tests.motcua_metrics.helpers import applied, envelopes, publish

PUBLIC_ROUTES = {
    "GET /v1/index", "GET /v1/index/ranking", "GET /v1/index/config", "GET /v1/index/export",
    "GET /v1/stats/dossiers", "GET /v1/stats/operations", "GET /dashboard",
}
PROTECTED_ROUTES = {"GET /v1/index/items/{item_id}/dossiers",
                    "GET /v1/national/records/{dossier_code}"}


class TestDeclarations:
    def test_every_route_declares_its_callers(self) -> None:
        app = create_app(Settings())
        assert undeclared_routes(app) == []
        declared = {f"{','.join(sorted(r.methods))} {r.path}": access_of(r)
                    for r in api_routes(app)
                    if r.path not in ("/healthz", "/readyz", "/metrics")}
        assert {k for k, v in declared.items() if v == "public"} == PUBLIC_ROUTES
        assert {k for k, v in declared.items() if v == "protected"} == PROTECTED_ROUTES


@pytest.fixture
async def metrics(mesh: Mesh) -> RunningService:
    service = await mesh.start("metrics")
    events = envelopes(mesh, scenario.build(mesh.province))
    await publish(mesh, events)
    await applied(service, len(events))
    return service


def _agency(mesh: Mesh, n: str) -> str:
    return f"000.0{n}.17.{mesh.province}"


def _code(mesh: Mesh, agency: str, n: int) -> str:
    return f"000.0{agency}.17.{mesh.province}-2603{n:02d}-0001"


def _drill(item: str) -> str:
    return f"/v1/index/items/{item}/dossiers"


def _problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code, r.json()


class TestAccess:
    async def test_public_aggregates_protected_dossiers(self, mesh: Mesh,
                                                        metrics: RunningService) -> None:
        client = metrics.client
        a, b = _agency(mesh, "1"), _agency(mesh, "2")
        march = {"period": "2026-03"}

        # Published aggregates answer anyone.
        for path, params in (("/v1/index", {"unit": f"agency:{a}"}),
                             ("/v1/index/ranking", {}), ("/v1/index/config", None),
                             ("/v1/index/export", {"format": "csv"}),
                             ("/v1/stats/dossiers", None),
                             ("/v1/stats/operations", {"unit": f"agency:{a}"}),
                             ("/dashboard", {"unit": f"agency:{a}"})):
            # (None: takes no period, and unknown parameters are refused)
            r = await client.get(path, params=march | params if params is not None else {})
            assert r.status_code == 200, (path, r.text)

        # No token on dossier-level data: 401 with a bearer challenge.
        for path in (_drill("progress.settlement"),
                     f"/v1/national/records/{_code(mesh, '1', 3)}"):
            r = await client.get(path, params=march | {"unit": f"agency:{a}"})
            _problem(r, 401, "auth.token_missing")
            assert r.headers["www-authenticate"].startswith("Bearer")
        # A bad token is refused even where a token is optional.
        _problem(await client.get("/dashboard", headers={"authorization": "Bearer nope"}),
                 401, "auth.token_invalid")

        # Callers who are not readers: 403.
        not_readers = {
            "receptionist": mesh.mint.officer(a, "receptionist", "processor"),
            "citizen": mesh.mint.citizen("038095001234"),
            "service without metrics.read": mesh.mint.service("intake", "mesh"),
        }
        for who, headers in not_readers.items():
            r = await client.get(_drill("progress.settlement"),
                                 params=march | {"unit": f"agency:{a}"}, headers=headers)
            _problem(r, 403, "auth.forbidden")
            r = await client.get(f"/v1/national/records/{_code(mesh, '1', 3)}",
                                 headers=headers)
            assert r.status_code == 403, who

        # An auditor of A drills into A, never into B, even holding another role at B.
        officer_a = mesh.mint.officer({a: ["auditor"], b: ["receptionist"]})
        r = await client.get(_drill("progress.settlement"),
                             params=march | {"unit": f"agency:{a}"}, headers=officer_a)
        assert r.status_code == 200 and r.json()["total"] == 4
        r = await client.get(_drill("progress.settlement"),
                             params=march | {"unit": f"agency:{b}"}, headers=officer_a)
        _problem(r, 403, "auth.agency_forbidden")
        # National records: A's dossier yes; B's dossier, or a code of B that does not
        # exist, 403 — the answer does not reveal whether B has such a dossier.
        r = await client.get(f"/v1/national/records/{_code(mesh, '1', 3)}",
                             headers=officer_a)
        assert r.status_code == 200 and r.json()["record"]["MaHoSo"] == _code(mesh, "1", 3)
        for code in (_code(mesh, "2", 11), _code(mesh, "2", 99)):
            _problem(await client.get(f"/v1/national/records/{code}", headers=officer_a),
                     403, "auth.agency_forbidden")

        # A province is narrowed to the officer's agencies; a service sees every agency.
        province = march | {"unit": f"province:{mesh.province}"}
        item = _drill("digitisation.electronic_result")
        service = (await client.get(item, params=province,
                                    headers=mesh.mint.service("reports", "metrics.read"))).json()
        assert {r["agency_code"] for r in service["rows"]} == {a, b}
        assert "narrowed_to" not in service
        narrowed = (await client.get(item, params=province, headers=officer_a)).json()
        assert narrowed["narrowed_to"] == [a]
        assert {r["agency_code"] for r in narrowed["rows"]} == {a}
        assert narrowed["total"] == service["total"] - 1  # D11 of B left out
        # ... and so are catalog rows (P4 is A's procedure only).
        admin_b = mesh.mint.officer(b, "agency_admin")
        item = _drill("online.procedures_online")
        assert [r["procedure_code"] for r in (await client.get(
            item, params=province, headers=officer_a)).json()["rows"]] == [scenario.P4]
        assert (await client.get(item, params=province, headers=admin_b)).json()["rows"] == []

        # The public export and dashboard leave dossier rows out for another agency's
        # officer as for anonymous callers.
        page = await client.get("/dashboard", params=march | {"unit": f"agency:{a}"},
                                headers=admin_b)
        assert page.status_code == 200 and _code(mesh, "1", 6) not in page.text
        page = await client.get("/dashboard", params=march | {"unit": f"agency:{a}"},
                                headers=officer_a)
        assert _code(mesh, "1", 6) in page.text
