"""Unit tests of the kit: settings, envelope and subjects, topology, log redaction."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import errno
import json
import math
import socket
import subprocess
import sys
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, IntegrityError

from motcua import registry
from motcua.config import DEFAULT_NATS_PORT, service_settings
from motcua.contracts import REGISTRY
from motcua.contracts.intake import DossierSubmittedV1
from motcua.db import utcnow
from motcua.errors import install_problem_handlers
from motcua.events import Envelope
from motcua.logging import configure_logging, correlation_id_var, get_logger
from motcua.registry import discover
from motcua.streams import CONSUMERS, PRODUCERS, topology
from motcua.testing import wait_for


class TestSettings:
    def test_service_variables_win_over_mesh_variables(self, monkeypatch) -> None:
        monkeypatch.setenv("MOTCUA_DATABASE_URL", "sqlite+aiosqlite:///mesh.db")
        monkeypatch.setenv("MOTCUA_INTAKE_DATABASE_URL", "postgresql+asyncpg://h/intake")
        monkeypatch.setenv("MOTCUA_PROVINCE", "H01")
        intake = service_settings("intake")()
        workflow = service_settings("workflow")()
        assert intake.resolved_database_url() == "postgresql+asyncpg://h/intake"
        assert workflow.resolved_database_url() == "sqlite+aiosqlite:///mesh.db"
        assert intake.province == workflow.province == "H01"

    def test_defaults_keep_off_the_standard_nats_port(self, monkeypatch, tmp_path) -> None:
        monkeypatch.setenv("MOTCUA_DATA_DIR", str(tmp_path))
        s = service_settings("metrics")()
        assert s.nats_url.endswith(f":{DEFAULT_NATS_PORT}") and DEFAULT_NATS_PORT != 4222
        assert s.resolved_port() == 8105
        assert s.resolved_database_url() == f"sqlite+aiosqlite:///{tmp_path}/metrics.db"

    def test_the_key_set_is_looked_for_where_identity_bridge_is_served(
            self, monkeypatch) -> None:
        """Moving identity-bridge to another port moves every service's JWKS URL with it
        (it stayed on 8104, and tokens of a bridge on another port were refused)."""
        monkeypatch.setenv("MOTCUA_HOST", "0.0.0.0")
        intake = service_settings("intake")
        assert intake().resolved_auth_jwks_url() == \
            "http://127.0.0.1:8104/.well-known/jwks.json"
        monkeypatch.setenv("MOTCUA_IDENTITY_BRIDGE_PORT", "9204")
        assert intake().resolved_auth_jwks_url() == \
            "http://127.0.0.1:9204/.well-known/jwks.json"
        monkeypatch.setenv("MOTCUA_AUTH_JWKS_URL", "http://identity-bridge:8104/jwks")
        assert intake().resolved_auth_jwks_url() == "http://identity-bridge:8104/jwks"

    def test_lists_come_as_json(self, monkeypatch) -> None:
        monkeypatch.setenv("MOTCUA_CONSUMER_BACKOFF_S", "[0.5, 2]")
        assert service_settings("workflow")().consumer_backoff_s == [0.5, 2.0]

    async def test_database_pool_sizes_reach_the_running_service(
            self, monkeypatch, mesh: Any, backend: str) -> None:
        """Pool sizes are settings (service-specific winning); a running service's
        PostgreSQL pools have them; SQLite keeps its one connection."""
        from motcua.db import side_engine

        monkeypatch.setenv("MOTCUA_DATABASE_POOL_SIZE", "4")
        monkeypatch.setenv("MOTCUA_INTAKE_DATABASE_POOL_SIZE", "3")
        monkeypatch.setenv("MOTCUA_DATABASE_SIDE_POOL_SIZE", "2")
        assert service_settings("workflow")().database_pool_size == 4
        monkeypatch.setenv("MOTCUA_WORKFLOW_DATABASE_SIDE_POOL_SIZE", "0")
        with pytest.raises(ValueError, match="database_side_pool_size"):
            service_settings("workflow")()
        service = await mesh.start("intake")
        assert (service.settings.database_pool_size,
                service.settings.database_side_pool_size) == (3, 2)
        engine = service.runtime.engine
        if backend == "postgresql":
            assert engine.sync_engine.pool.size() == 3
            assert side_engine(engine).sync_engine.pool.size() == 2
        else:
            assert engine.sync_engine.pool.size() == 1

    def test_rejects_a_malformed_province(self, monkeypatch) -> None:
        monkeypatch.setenv("MOTCUA_PROVINCE", "h56.>")
        with pytest.raises(ValueError, match="province"):
            service_settings("intake")()


class TestEnvelope:
    def _data(self) -> DossierSubmittedV1:
        return DossierSubmittedV1(dossier_code="000.01.17.H56-261122-0001",
                                  agency_code="000.01.17.H56", procedure_code="1.001193",
                                  status=1, occurred_at=utcnow(), channel="online",
                                  applicant_kind="individual")

    def test_round_trip_and_type(self) -> None:
        token = correlation_id_var.set("corr-1")
        try:
            env = Envelope.wrap(self._data(), province="H56", key="k", sequence=3)
        finally:
            correlation_id_var.reset(token)
        again = Envelope.from_bytes(env.to_bytes())
        assert again == env
        assert env.type == "vn.motcua.intake.dossier.submitted.v1"
        assert env.correlationid == "corr-1" and env.sequence == 3
        assert env.id[14] == "7"  # UUIDv7
        assert DossierSubmittedV1.subject("H56") == "motcua.H56.intake.dossier.submitted"

    def test_registry_knows_every_contract(self) -> None:
        assert REGISTRY["vn.motcua.intake.dossier.submitted.v1"] is DossierSubmittedV1
        assert "vn.motcua.workflow.case.status_changed.v1" in REGISTRY

    def test_additive_fields_are_kept(self) -> None:
        raw = json.loads(Envelope.wrap(self._data(), province="H56", key="k").to_bytes())
        raw["data"]["added_in_a_later_minor"] = 1
        data = DossierSubmittedV1.model_validate(Envelope.model_validate(raw).data)
        assert data.dossier_code.endswith("0001")


class TestTopology:
    def test_one_stream_per_producer_and_a_dead_letter_stream(self) -> None:
        topo = topology("H56")
        assert [s.name for s in topo.streams] == [f"MOTCUA_H56_{p.upper()}"
                                                  for p in (*PRODUCERS, "dlq")]
        assert topo.streams[0].subjects == ["motcua.H56.intake.>"]
        assert all(s.duplicate_window >= 600 for s in topo.streams)

    def test_consumers_are_explicit_ack_durables(self) -> None:
        topo = topology("H56")
        assert len(topo.consumers) == len(CONSUMERS)
        for _stream, config in topo.consumers:
            assert config.ack_policy.value == "explicit" and config.durable_name


    def test_ack_wait_can_be_set_for_a_whole_province(self) -> None:
        assert {c.ack_wait for _, c in topology("H56").consumers} == {30.0}
        assert {c.ack_wait for _, c in topology("H56", ack_wait_s=5).consumers} == {5.0}

    def test_subjects_match_as_nats_matches_them(self) -> None:
        from motcua.streams import subject_matches

        assert subject_matches("motcua.H56.workflow.case.>", "motcua.H56.workflow.case.started")
        assert subject_matches("motcua.*.intake.>", "motcua.H56.intake.dossier.submitted")
        assert not subject_matches("motcua.H56.workflow.case.>", "motcua.H56.workflow.case")
        assert not subject_matches("motcua.H56.workflow.case.extended",
                                   "motcua.H56.workflow.case.extended.more")
        assert not subject_matches("motcua.H56.workflow.case.*",
                                   "motcua.H56.workflow.task.created")

    def test_a_service_refuses_a_handler_its_filters_never_deliver(self) -> None:
        from motcua.contracts.workflow import CaseStartedV1
        from motcua.service import create_service_app

        async def handler(*_: object) -> None:
            pass

        settings = service_settings("intake")(province="H56")
        with pytest.raises(ValueError, match=r"intake-workflow.*case\.started"):
            create_service_app(settings, title="t", description="", routers=[],
                               handlers={"intake-workflow": {
                                   CaseStartedV1.event_type(): handler}})


def _probe(code: str) -> Any:
    """Run ``code`` in a fresh interpreter; the value its last line of output prints."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return ast.literal_eval(out.splitlines()[-1])


class TestRegistry:
    def test_serving_one_service_imports_no_other(self) -> None:
        # `motcua serve workflow` as `motcua up` runs it, with uvicorn's server stubbed.
        rc, loaded = _probe(
            "import sys, uvicorn; uvicorn.run = lambda *a, **k: None; "
            "from motcua import cli; rc = cli.main(['serve', 'workflow']); "
            "print((rc, sorted(m for m in sys.modules if m.startswith('motcua_')"
            " and '.' not in m)))")
        assert (rc, loaded) == (0, ["motcua_workflow"])

    def test_a_command_imports_only_the_services_it_needs(self) -> None:
        """A built-in command imports no service, a service's operator task only that
        service; the help lists every service's tasks (each import costs about a second
        of CPU)."""
        probe = ("import asyncio, contextlib, io, sys; from motcua import cli\n"
                 "async def nothing(*a): return 0\n"
                 "cli._dlq = nothing; out = []\n"
                 "def loaded(): return sorted(m for m in sys.modules"
                 " if m.startswith('motcua_') and '.' not in m)\n"
                 "rc = cli.main(['dlq', 'list']); out.append((rc, loaded()))\n"
                 "for argv in (['metrics', '--help'], ['--help']):\n"
                 "    text = io.StringIO()\n"
                 "    with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):\n"
                 "        cli.main(argv)\n"
                 "    out.append((text.getvalue(), loaded()))\n"
                 "print(repr(out))")
        (rc, after_dlq), (task_help, after_task), (help_, after_help) = _probe(probe)
        assert (rc, after_dlq) == (0, [])
        assert "rebuild" in task_help and after_task == ["motcua_metrics"]
        assert "metrics operator tasks" in help_
        assert after_help == sorted(f"motcua_{n.replace('identity-bridge', 'identity')}"
                                    for n in registry.ORDER)

    @pytest.mark.parametrize("argv", [["dlq", "list"], ["streams", "show"]])
    def test_an_operator_command_without_nats_says_so(self, argv: list[str], monkeypatch,
                                                      capsys) -> None:
        from motcua import cli

        with socket.socket() as sock:  # a port nothing listens on
            sock.bind(("127.0.0.1", 0))
            url = f"nats://127.0.0.1:{sock.getsockname()[1]}"
        monkeypatch.setenv("MOTCUA_NATS_URL", url)
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert f"NATS at {url} cannot be used" in err and "Traceback" not in err
        assert "ConnectionRefusedError" in err  # what went wrong, not only that it did

    def test_dead_letters_of_a_province_without_streams(self, nats_server: Any,
                                                        monkeypatch, capsys) -> None:
        from motcua import cli
        from motcua.testing import fresh_province

        province = fresh_province()
        monkeypatch.setenv("MOTCUA_NATS_URL", nats_server.url)
        monkeypatch.setenv("MOTCUA_PROVINCE", province)
        assert cli.main(["dlq", "list"]) == 1
        err = capsys.readouterr().err
        assert f"no dead-letter stream for province {province}" in err
        assert "Traceback" not in err

    def test_every_name_can_be_served_and_services_own_their_process(self) -> None:
        # `motcua serve <name>` for every service and companion app, uvicorn stubbed: each
        # builds its app (a companion may be plain WSGI), and a mesh service's app is
        # marked to tune the garbage collector of its process at startup.
        probe = ("import uvicorn; from motcua import cli, registry; served = {}; "
                 "uvicorn.run = lambda app, **k: served.update(app=app); out = []\n"
                 "for name in registry.names():\n"
                 "    rc = cli.main(['serve', name])\n"
                 "    state = getattr(served.pop('app'), 'state', None)\n"
                 "    out.append((name, rc, getattr(state, 'own_process', False)))\n"
                 "print(out)")
        served = {name: (rc, own) for name, rc, own in _probe(probe)}
        assert set(served) == set(registry.names())
        assert {name: rc for name, (rc, _) in served.items()} == dict.fromkeys(served, 0)
        assert set(discover()) <= {name for name, (_, own) in served.items() if own}

    def test_every_name_loads_the_service_of_that_name(self) -> None:
        services = discover()
        assert all(registry.load(name) is spec for name, spec in services.items())
        assert registry.names()[:5] == list(registry.ORDER) == list(services)
        assert registry.load("nope") is None


class TestInFlightLimit:
    async def test_a_request_waiting_for_its_client_holds_no_place(self) -> None:
        """Counted while the service works on it: not while its body is still arriving,
        nor once its answer has started (a slow client cannot take every place)."""
        from prometheus_client import CollectorRegistry

        from motcua.http import InFlightLimitMiddleware

        asked, body, done = asyncio.Event(), asyncio.Event(), asyncio.Event()
        counted_while: dict[str, int] = {}

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["path"] == "/slow":
                await receive()
                counted_while["working"] = limited.in_flight
                await done.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            if scope["path"] == "/slow":
                counted_while["answering"] = limited.in_flight
            await send({"type": "http.response.body", "body": b"ok"})

        registry = CollectorRegistry()
        limited = InFlightLimitMiddleware(app, limit=1, registry=registry, service="t")

        async def trickling() -> dict[str, Any]:
            asked.set()
            await body.wait()
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def call(path: str, receive: Any = None) -> int:
            sent: list[dict[str, Any]] = []

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            async def nothing() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            await limited({"type": "http", "path": path, "method": "POST", "headers": []},
                          receive or nothing, send)
            return sent[0]["status"]

        slow = asyncio.create_task(call("/slow", trickling))
        await asked.wait()
        assert limited.in_flight == 0
        assert await call("/fast") == 200  # admitted: the slow one waits for its client
        body.set()
        await wait_for(lambda: "working" in counted_while, what="the body read")
        assert counted_while["working"] == 1
        assert await call("/fast") == 503  # the one place is taken by work
        assert await call("/healthz") == 200  # not counted, not refused
        done.set()
        assert await slow == 200
        assert counted_while["answering"] == 0 and limited.in_flight == 0
        assert registry.get_sample_value("motcua_http_shed_requests_total",
                                         {"service": "t"}) == 1


    async def test_a_refused_request_is_labelled_shed_not_unmatched(self) -> None:
        from prometheus_client import CollectorRegistry

        from motcua.http import InFlightLimitMiddleware, MetricsMiddleware

        release = asyncio.Event()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await release.wait()
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        registry = CollectorRegistry()
        stack = MetricsMiddleware(InFlightLimitMiddleware(app, limit=1, registry=registry,
                                                          service="t"), registry, "t")

        async def call() -> None:
            async def send(message: dict[str, Any]) -> None:
                pass

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            await stack({"type": "http", "path": "/x", "method": "GET", "headers": []},
                        receive, send)

        held = asyncio.create_task(call())
        await wait_for(lambda: registry.get_sample_value(
            "motcua_http_requests_in_flight", {"service": "t"}) == 1, what="one in flight")
        await call()
        release.set()
        await held

        def count(route: str, status: str) -> float | None:
            return registry.get_sample_value("motcua_http_requests_total", {
                "service": "t", "method": "GET", "route": route, "status": status})

        assert count("shed", "503") == 1 and count("unmatched", "404") == 1
        assert count("unmatched", "503") is None


class TestLogRedaction:
    def test_personal_id_numbers_never_reach_a_log_line(self, capsys) -> None:
        configure_logging("INFO", json=True)
        structlog.reset_defaults()
        import motcua.logging as ml

        ml._configured = False
        configure_logging("INFO", json=True)
        get_logger("t").info("lookup", id_number="038095001234",
                             note="citizen 001203004567 and tax 0100109106-001",
                             nested={"ids": ["123456789"]})
        out = capsys.readouterr().out
        for secret in ("038095001234", "001203004567", "0100109106", "123456789"):
            assert secret not in out
        assert "********1234" in out


class TestStopTasks:
    async def test_a_task_that_swallowed_a_cancellation_is_cancelled_again(self) -> None:
        from motcua.service import stop_tasks

        rounds = 0

        async def swallows_the_first() -> None:
            # As asyncio.wait_for on 3.11 can: the cancellation is lost and the loop goes on.
            nonlocal rounds
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    rounds += 1
                    if rounds > 1:
                        raise

        task = asyncio.create_task(swallows_the_first())
        await asyncio.sleep(0)
        await stop_tasks([task], round_s=0.05)
        assert task.cancelled()
        assert rounds == 2

    async def test_a_task_that_never_stops_is_left_behind_not_waited_for_forever(self) -> None:
        from motcua.service import stop_tasks

        async def immortal() -> None:
            while True:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(3600)

        task = asyncio.create_task(immortal())
        await asyncio.sleep(0)
        await stop_tasks([task], round_s=0.01, give_up_s=0.05)
        assert not task.done()
        task.get_coro().close()  # type: ignore[union-attr]


class TestAfterCommit:
    """``db.after_commit`` runs an action once the outermost transaction commits, and never
    for a transaction or savepoint that rolled back (real SQLite and PostgreSQL)."""

    async def test_commit_savepoints_rollback_and_close(self, make_database) -> None:
        from sqlalchemy import text

        from motcua.db import after_commit, create_engine, session_factory

        engine = create_engine(await make_database("after_commit"))
        sessions = session_factory(engine)
        ran: list[str] = []
        try:
            async with sessions() as session, session.begin():
                after_commit(session, lambda: ran.append("outer"))
                async with session.begin_nested():
                    after_commit(session, lambda: ran.append("released"))
                assert ran == []  # a released savepoint commits nothing yet
                with contextlib.suppress(RuntimeError):
                    async with session.begin_nested():
                        after_commit(session, lambda: ran.append("rolled back"))
                        raise RuntimeError
                await session.execute(text("SELECT 1"))
            assert ran == ["outer", "released"]

            ran.clear()
            with contextlib.suppress(RuntimeError):
                async with sessions() as session, session.begin():
                    after_commit(session, lambda: ran.append("failed"))
                    raise RuntimeError
            session = sessions()
            await session.execute(text("SELECT 1"))
            after_commit(session, lambda: ran.append("closed"))
            await session.close()  # ended without a commit
            async with session.begin():  # the same session, a new transaction
                await session.execute(text("SELECT 1"))
            assert ran == []
            async with sessions() as idle:  # nothing begun: nothing to tie the action to
                with pytest.raises(RuntimeError):
                    after_commit(idle, lambda: ran.append("no transaction"))
        finally:
            await engine.dispose()


async def test_provisioning_again_narrows_an_existing_durables_filter(
        nats_server, monkeypatch) -> None:
    """A province provisioned under an older topology (intake-workflow reading every case
    event) gets the current filters when provisioned again, on a real nats-server."""
    import dataclasses

    import nats

    from motcua import streams
    from motcua.testing import fresh_province

    province = fresh_province()
    current = next(c for c in CONSUMERS if c.durable == "intake-workflow")
    older = tuple(dataclasses.replace(c, filters=("case.>",)) if c is current else c
                  for c in CONSUMERS)
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        monkeypatch.setattr(streams, "CONSUMERS", older)
        await streams.provision(js, province)
        stream = current.stream(province)
        info = await js.consumer_info(stream, current.durable)
        assert info.config.filter_subjects == [f"motcua.{province}.workflow.case.>"]
        monkeypatch.undo()
        await streams.provision(js, province)
        info = await js.consumer_info(stream, current.durable)
        assert info.config.filter_subjects == current.filter_subjects(province)
    finally:
        await nc.close()


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"driver error {sqlstate}")
        self.sqlstate = sqlstate


class TestDatabaseErrors:
    """A lost connection, a database refusing work for now (SQLSTATE class 53, 57P03) or
    one that cannot be reached answers 503 database.unavailable; any other database
    error is unexpected: 500 internal, with no details."""

    @staticmethod
    def _app() -> FastAPI:
        app = FastAPI()
        install_problem_handlers(app)

        @app.get("/refused/{sqlstate}")
        async def refused(sqlstate: str) -> None:
            raise DBAPIError("SELECT 1", None, _DriverError(sqlstate))

        @app.get("/unreachable")
        async def unreachable() -> None:
            raise ConnectionRefusedError(111, "Connect call failed")

        @app.get("/unknown-host")
        async def unknown_host() -> None:
            raise socket.gaierror(-2, "Name or service not known")

        @app.get("/every-address")
        async def every_address() -> None:
            raise OSError("Multiple exceptions: [Errno 111] Connect call failed "
                          "('127.0.0.1', 5432), [Errno 99] Cannot assign requested address")

        @app.get("/no-route")
        async def no_route() -> None:
            raise OSError(errno.ENETUNREACH, "Network is unreachable")

        @app.get("/timed-out")
        async def timed_out() -> None:  # as motcua.db re-raises the driver's
            raise TimeoutError(errno.ETIMEDOUT, "the connection did not open in time")

        @app.get("/own-timeout")
        async def own_timeout() -> None:  # asyncio.wait_for's, say: not the database
            raise TimeoutError()

        @app.get("/file")
        async def file() -> None:
            raise FileNotFoundError(errno.ENOENT, "No such file", "/secret/path")

        @app.get("/lost")
        async def lost() -> None:
            raise DBAPIError("SELECT 1", None, ConnectionResetError("gone"),
                             connection_invalidated=True)

        @app.get("/broken")
        async def broken() -> None:
            raise IntegrityError("INSERT", None, Exception("duplicate key secret_detail"))

        return app

    async def test_lost_connection_and_other_database_errors(self) -> None:
        transport = httpx.ASGITransport(app=self._app(), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            lost = await client.get("/lost")
            broken = await client.get("/broken")
        assert lost.status_code == 503 and lost.headers["retry-after"] == "1"
        assert lost.json()["code"] == "database.unavailable"
        assert broken.status_code == 500 and broken.json()["code"] == "internal"
        assert broken.headers["content-type"] == "application/problem+json"
        assert "secret_detail" not in broken.text and "INSERT" not in broken.text

    async def test_a_database_refusing_or_out_of_reach_answers_503(self) -> None:
        transport = httpx.ASGITransport(app=self._app(), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = {path: await client.get(path) for path in (
                "/refused/53300", "/refused/53100", "/refused/57P03", "/unreachable",
                "/unknown-host", "/no-route", "/every-address", "/timed-out",
                "/refused/23505", "/refused/57P01", "/file", "/own-timeout")}
        for path in ("/refused/53300", "/refused/53100", "/refused/57P03", "/unreachable",
                     "/unknown-host", "/no-route", "/every-address", "/timed-out"):
            r = answers[path]
            assert (r.status_code, r.headers.get("retry-after")) == (503, "1"), path
            assert r.json()["code"] == "database.unavailable", path
        assert "unknown host name" in answers["/unknown-host"].json()["detail"]
        assert "no route to the network" in answers["/no-route"].json()["detail"]
        assert "did not open in time" in answers["/timed-out"].json()["detail"]
        # A unique violation, an administrator ending the session, a missing file, a
        # timeout of the code's own: not "retry later".
        for path in ("/refused/23505", "/refused/57P01", "/file", "/own-timeout"):
            assert answers[path].status_code == 500, path
            assert answers[path].json()["code"] == "internal", path
            assert "driver error" not in answers[path].text
            assert "/secret/path" not in answers[path].text


def test_every_route_documents_the_answers_any_request_may_meet() -> None:
    """Each service's OpenAPI lists, on every route of its routers, the 503s that do not
    depend on the route (also where the route documents a 503 of its own), on every
    protected route the bearer token check's 401s and 503 (none on a public route, whose
    token is optional), on every route taking a body its 400 and 413, and validation
    errors (422) as problem+json."""
    from motcua.auth import access_of, api_routes

    def codes(operation: dict[str, Any], status: str) -> set[str]:
        return set(operation["responses"].get(status, {}).get("description", "").split(", "))

    token = {"auth.token_missing", "auth.token_invalid", "auth.token_expired"}
    with_body = 0
    for name, spec in discover().items():
        app = spec.create_app(spec.settings())
        schema = app.openapi()
        access = {(r.path, m.lower()): access_of(r) for r in api_routes(app) for m in r.methods}
        assert "ProblemDoc" in schema["components"]["schemas"]
        protected = 0
        for path, methods in schema["paths"].items():
            if path in ("/healthz", "/readyz", "/metrics"):
                continue
            for method, operation in methods.items():
                where = (name, method, path)
                assert {"service.busy", "database.unavailable",
                        "database.outcome_unknown"} <= codes(operation, "503"), where
                if access[path, method] == "protected":
                    protected += 1
                    assert token <= codes(operation, "401"), where
                    assert "auth.keys_unavailable" in codes(operation, "503"), where
                    assert {} not in operation.get("security", []), where
                else:
                    assert not token & codes(operation, "401"), where
                    # A token is optional: the security requirement admits none.
                    assert operation.get("security", [{}])[0] == {}, where
                if "requestBody" in operation:
                    with_body += 1
                    assert "request.malformed_json" in codes(operation, "400"), where
                    assert "request.too_large" in codes(operation, "413"), where
                # Any request may be invalid (an unknown query parameter, a NUL), and every
                # validation error is answered as problem+json, not FastAPI's JSON.
                validation = operation["responses"].get("422")
                assert validation is not None, where
                assert list(validation["content"]) == ["application/problem+json"], where
                assert "request.validation_failed" in codes(operation, "422"), where
        assert protected > 0, name
    assert with_body > 0


def test_every_integer_a_client_sends_in_a_path_or_query_is_bounded() -> None:
    """No path or query integer is larger than a database INTEGER holds (a larger one
    reached the driver and answered 500), in every service's OpenAPI."""
    from motcua.pagination import DB_INT_MAX

    checked = 0
    for name, spec in discover().items():
        for path, methods in spec.create_app(spec.settings()).openapi()["paths"].items():
            for method, operation in methods.items():
                for parameter in operation.get("parameters", []):
                    schema = parameter["schema"]
                    for variant in [schema, *schema.get("anyOf", [])]:
                        if variant.get("type") == "integer":
                            checked += 1
                            assert variant.get("maximum", math.inf) <= DB_INT_MAX, \
                                (name, method, path, parameter["name"])
    assert checked >= 10


class TestDatabaseRefusingConnections:
    """The answers above for the errors a real PostgreSQL and a real driver raise."""

    @staticmethod
    async def _get(url: str, *, side: bool = False, **engine_args: Any) -> httpx.Response:
        from sqlalchemy import text

        from motcua.db import create_engine, side_engine

        app = FastAPI()
        install_problem_handlers(app)
        engine = create_engine(url, pool_size=1, side_pool_size=1, **engine_args)

        @app.get("/read")
        async def read() -> int:
            async with (side_engine(engine) if side else engine).connect() as conn:
                return int((await conn.execute(text("SELECT 1"))).scalar_one())

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.get("/read")
        finally:
            await engine.dispose()

    async def test_no_connection_allowed_and_no_server(self, postgres: Any) -> None:
        import secrets

        from sqlalchemy.engine import make_url

        name = f"refusing_{secrets.token_hex(4)}"
        url = await postgres.create_database(name)
        role, password = f"limited_{secrets.token_hex(4)}", secrets.token_hex(8)
        async with postgres.admin() as admin:
            try:
                await admin.execute(f"CREATE ROLE \"{role}\" LOGIN CONNECTION LIMIT 0 "
                                    f"PASSWORD '{password}'")
                refused = await self._get(make_url(url).set(
                    username=role, password=password).render_as_string(hide_password=False))
                with socket.socket() as sock:  # a port nothing listens on
                    sock.bind(("127.0.0.1", 0))
                    port = sock.getsockname()[1]
                unreachable = await self._get(make_url(url).set(
                    host="127.0.0.1", port=port, query={}
                ).render_as_string(hide_password=False))
                # A name that never resolves (RFC 6761 reserves .invalid).
                unknown = await self._get(make_url(url).set(
                    host="motcua-db.invalid", port=5432, query={}
                ).render_as_string(hide_password=False))
                fine = await self._get(url)
            finally:
                await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        for r in (refused, unreachable, unknown):
            assert (r.status_code, r.json()["code"]) == (503, "database.unavailable")
            assert r.headers["retry-after"] == "1"
        assert "refused the request" in refused.json()["detail"]
        assert "could not be reached" in unreachable.json()["detail"]
        assert "unknown host name" in unknown.json()["detail"]
        assert fine.json() == 1  # the database itself is fine

    async def test_a_server_that_never_answers(self) -> None:
        """A connection that opens at the TCP level but gets no answer (a hung server, a
        proxy in front of a stopped one) times out as a database out of reach, on the
        requests' pool and on the side pool alike."""
        with socket.socket() as silent:  # the kernel accepts; nobody ever reads
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            url = f"postgresql+asyncpg://motcua:x@127.0.0.1:{silent.getsockname()[1]}/motcua"
            answers = [await self._get(url, side=side, connect_timeout_s=0.2)
                       for side in (False, True)]
        for r in answers:
            assert (r.status_code, r.json()["code"]) == (503, "database.unavailable")
            assert r.headers["retry-after"] == "1"
            assert "did not open in time" in r.json()["detail"]


def test_nul_characters_are_found_once_each_in_a_parsed_document() -> None:
    import yaml

    from motcua.errors import nul_characters

    def fields(value: Any, where: str = "") -> list[str]:
        found = nul_characters(value, where)
        assert all(e.code == "field.nul_character" for e in found)
        return [e.field for e in found]

    shared = ["ok", "bad\x00"]
    document = {"name": "A\x00", "steps": [{"k\x00": 1}, shared, shared], "n": 3}
    # In document order; the list met twice is reported at its first path only.
    assert fields(document, "definitions.0") == [
        "definitions.0.name", "definitions.0.steps.0.k\x00", "definitions.0.steps.1.1"]
    assert fields("x\x00", "cell") == ["cell"] and fields({"a": "fine", "b": [1]}) == []
    # YAML anchors: a list inside itself, and a "billion laughs" of aliases (9**12 paths),
    # are walked once per node.
    assert fields(yaml.safe_load('a: &a [*a, "\\0"]')) == ["a.1"]
    bomb = 'a: &a ["\\0", "\\0"]\n' + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
        for i in range(12))
    assert fields(yaml.safe_load(bomb)) == ["a.0", "a.1"]


class TestTextNotStorable:
    """U+0000 in text: PostgreSQL refuses it (SQLSTATE 22021) and SQLite is made to, so a
    value is stored by both backends or by neither."""

    async def test_refused_on_both_backends_with_nothing_stored(self, make_database: Any
                                                                ) -> None:
        from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

        from motcua.db import create_engine

        notes = Table("notes", MetaData(), Column("id", Integer, primary_key=True),
                      Column("text", String(50)))
        engine = create_engine(await make_database("notes"), pool_size=1, side_pool_size=1)
        async with engine.begin() as conn:
            await conn.run_sync(notes.metadata.create_all)
        app = FastAPI()
        install_problem_handlers(app)

        @app.post("/notes/{how}")
        async def write(how: str, texts: list[str]) -> int:
            async with engine.begin() as conn:
                await conn.execute(insert(notes).values(text="first, in the same transaction"))
                rows = [{"text": t} for t in texts]
                if how == "one":
                    await conn.execute(insert(notes).values(rows[0]))
                elif how == "many":  # the driver's executemany
                    await conn.execute(insert(notes), rows)
                else:  # several rows in one INSERT ... RETURNING (insertmanyvalues)
                    await conn.execute(insert(notes).returning(notes.c.id), rows)
            return len(texts)

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                one = await client.post("/notes/one", json=["a\u0000b"])
                many = await client.post("/notes/many", json=["fine", "x\u0000"])
                returning = await client.post("/notes/returning", json=["fine", "x\u0000"])
                escaped = await client.post("/notes/one",
                                            json=["\\u0000 is six characters"])
            async with engine.connect() as conn:
                stored = list((await conn.execute(select(notes.c.text).order_by(notes.c.id)
                                                  )).scalars())
                count = (await conn.execute(select(func.count()).select_from(notes))).scalar()
        finally:
            await engine.dispose()
        for r in (one, many, returning):
            assert r.status_code == 422, r.text
            assert r.json()["code"] == "request.text_not_storable"
        assert escaped.status_code == 200
        # Only the last request's two rows: the refused ones rolled back their first row.
        assert count == 2
        assert stored == ["first, in the same transaction", "\\u0000 is six characters"]
