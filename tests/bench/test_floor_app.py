"""bench/floor_app.py measures the HTTP layers of ``POST /v1/dossiers``: its ``deps``
route must ask for exactly what the real route asks for, or the floor it reports is
another route's."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from motcua_intake.dossiers.router import router as dossiers_router
from tests.bench import bench_module

floor_app = bench_module("floor_app")


def _route(router: Any, path: str) -> APIRoute:
    return next(r for r in router.routes
                if isinstance(r, APIRoute) and r.path == path and "POST" in r.methods)


def _asks(route: APIRoute) -> tuple[Any, ...]:
    d = route.dependant
    return ({sub.call for sub in d.dependencies}, [p.name for p in d.body_params],
            [p.name for p in d.header_params], [p.name for p in d.query_params],
            route.response_model, route.status_code)


def test_deps_route_asks_for_what_submission_asks_for() -> None:
    submit = _route(dossiers_router, "/v1/dossiers")
    deps = _route(floor_app.router, "/bench/floor/deps")
    assert _asks(deps) == _asks(submit)
    assert len(submit.dependant.dependencies) >= 4  # session, key, desk, caller


def test_auth_route_asks_for_body_and_caller_only() -> None:
    submit = _route(dossiers_router, "/v1/dossiers")
    auth = _route(floor_app.router, "/bench/floor/auth")
    caller = {sub.call for sub in submit.dependant.dependencies
              if sub.name == "who"}
    assert {sub.call for sub in auth.dependant.dependencies} == caller
    assert _asks(auth)[1:] == _asks(submit)[1:]
