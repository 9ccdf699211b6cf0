"""The ``motcua`` command.

    motcua up                 NATS + migrations + streams + seed + the five services
    motcua serve SERVICE      run one service (what `up` starts, and what a container runs)
    motcua migrate [SERVICE]  apply migrations
    motcua streams provision|show
    motcua dlq list|replay (SEQ... | --all)
    motcua simulate [--dossiers N | --day | --month] [--seed S]
                              a realistic day of the province through the public APIs
    motcua SERVICE TASK [ARGS]  operator tasks a service declares (e.g. `motcua metrics rebuild`)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import nats
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from motcua import registry
from motcua import streams as topology
from motcua.config import DEFAULT_PORTS, MeshSettings
from motcua.consumer import list_dead_letters, replay_dead_letter
from motcua.migrate import upgrade
from motcua.natsserver import NatsServer, port_open


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="motcua", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole mesh locally")
    up.add_argument("--external-nats", action="store_true",
                    help="use MOTCUA_NATS_URL instead of starting a nats-server")
    up.add_argument("--no-seed", action="store_true", help="skip the sample data")

    serve = sub.add_parser("serve", help="run one service")
    serve.add_argument("service")

    mig = sub.add_parser("migrate", help="apply database migrations")
    mig.add_argument("service", nargs="?")

    st = sub.add_parser("streams", help="JetStream topology")
    st.add_argument("action", choices=["provision", "show"])
    st.add_argument("--replicas", type=int, default=1, help="stream replicas (3 on a cluster)")

    dlq = sub.add_parser("dlq", help="dead letters")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("seq", nargs="*", type=int)
    dlq.add_argument("--all", action="store_true")

    sim = sub.add_parser("simulate", help="drive a realistic day (or month) of the province "
                                          "through the public APIs of a running mesh")
    scale = sim.add_mutually_exclusive_group()
    scale.add_argument("--dossiers", type=int, help="how many dossiers (default: --day)")
    scale.add_argument("--day", action="store_true", help="a working day's volume (150)")
    scale.add_argument("--month", action="store_true",
                       help="a month's volume (22 working days)")
    sim.add_argument("--seed", default="1", help="same seed, same dossiers and stories")
    sim.add_argument("--concurrency", type=int, default=8,
                     help="dossiers in flight at once (default 8)")
    sim.add_argument("--agency", action="append", dest="agencies", metavar="CODE",
                     help="agency to simulate (repeatable; default the three sample agencies)")
    sim.add_argument("--procedure", action="append", dest="procedures", metavar="CODE",
                     help="only these procedures (repeatable)")
    sim.add_argument("--password", default=None,
                     help="password of the sample staff (default the development one, "
                          "or MOTCUA_SIMULATE_PASSWORD)")
    sim.add_argument("--url", action="append", default=[], metavar="SERVICE=URL",
                     help="where a service listens (default http://<host>:<its port>)")
    sim.add_argument("--interval", type=float, default=0.0,
                     help="seconds between two arrivals (default 0: as fast as it goes)")
    sim.add_argument("--wait-timeout", type=float, default=120.0,
                     help="longest wait for one step of a dossier, in seconds")
    sim.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    sim.add_argument("--no-progress", action="store_true", help="no progress line")

    argv = list(sys.argv[1:] if argv is None else argv)
    providers = _task_providers(argv[:1], builtin=set(sub.choices))
    for name, spec in providers.items():
        if spec.tasks:
            task = sub.add_parser(name, help=f"{name} operator tasks")
            task.add_argument("task", choices=sorted(spec.tasks))
            task.add_argument("args", nargs=argparse.REMAINDER)

    args = parser.parse_args(argv)
    try:
        return _run(args, providers)
    except ValidationError as exc:
        if not exc.title.endswith("Settings"):
            raise
        _settings_refused(f"motcua {args.command}", exc)
        return 2


def _settings_refused(who: str, exc: ValidationError) -> None:
    """Settings from the environment that a service refuses (production without its
    secrets, say): what to set, on stderr; not a traceback, and never the values
    (secrets)."""
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"])
        print(f"{who}: settings not accepted: {where + ': ' if where else ''}"
              f"{error['msg']}", file=sys.stderr)


def _run(args: argparse.Namespace, providers: dict[str, registry.ServiceSpec]) -> int:
    if args.command in providers and providers[args.command].tasks:
        return providers[args.command].tasks[args.task](args.args)
    if args.command == "up":
        return _up(args)
    if args.command == "serve":
        return _serve(args.service)
    if args.command == "migrate":
        return _migrate(args.service)
    if args.command == "streams":
        return asyncio.run(_streams(args.action, args.replicas))
    if args.command == "dlq":
        return asyncio.run(_dlq(args.action, args.seq, args.all))
    if args.command == "simulate":
        return _simulate(args)
    return 2


def _task_providers(first: list[str], builtin: set[str]) -> dict[str, registry.ServiceSpec]:
    """The services whose operator tasks the command line may name: none for a built-in
    command, only the one named, or all of them (for the help, or an unknown word). Each
    service imported costs about a second of CPU, and runs its import-time hooks."""
    if first and first[0] in builtin:
        return {}
    if first and first[0] in registry.names():
        spec = registry.load(first[0])
        return {first[0]: spec} if isinstance(spec, registry.ServiceSpec) else {}
    return registry.discover()


def _print(line: str) -> None:
    print(line, flush=True)


def _migrate(only: str | None = None) -> int:
    services = registry.discover()
    if only and only not in services:
        _print(f"unknown service {only!r}; known: {', '.join(services)}")
        return 2
    chosen = {name: spec for name, spec in services.items() if not only or name == only}
    # Every service's settings first: any the environment does not satisfy stops the
    # command before a database is changed, and each is named.
    urls, refused = {}, False
    for name, spec in chosen.items():
        try:
            urls[name] = spec.settings().resolved_database_url()
        except ValidationError as exc:
            _settings_refused(f"motcua migrate ({name})", exc)
            refused = True
    if refused:
        return 2
    for name, spec in chosen.items():
        upgrade(spec.migrations_dir, urls[name])
        _print(f"migrated {name}")
    return 0


async def _operator_connection(url: str) -> Any:
    """A NATS connection for an operator command, or None after saying on stderr why
    there is none (no traceback: the usual cause is a mesh that is not running)."""
    met: list[Exception] = []

    async def note(exc: Exception) -> None:
        """nats-py logs each failed try with a traceback; the last one is reported below."""
        met.append(exc)

    try:
        return await nats.connect(url, connect_timeout=3, max_reconnect_attempts=1,
                                  reconnect_time_wait=0.2, error_cb=note)
    except (NatsError, OSError) as exc:  # NoServersError is a NatsError
        why = met[-1] if met else exc
        print(f"motcua: NATS at {url} cannot be used: {type(why).__name__}: {why}. Is the "
              "mesh running (motcua up)? Otherwise set MOTCUA_NATS_URL.", file=sys.stderr)
        return None


async def _streams(action: str, replicas: int = 1) -> int:
    mesh = MeshSettings()
    nc = await _operator_connection(mesh.nats_url)
    if nc is None:
        return 1
    try:
        js = nc.jetstream()
        if action == "provision":
            for line in await topology.provision(js, mesh.province, replicas=replicas):
                _print(line)
        else:
            _print(f"topology version {topology.TOPOLOGY_VERSION}, province {mesh.province}")
            for row in await topology.describe(js, mesh.province):
                _print(json.dumps(row, ensure_ascii=False))
    finally:
        await nc.close()
    return 0


async def _dlq(action: str, seqs: list[int], replay_all: bool) -> int:
    mesh = MeshSettings()
    nc = await _operator_connection(mesh.nats_url)
    if nc is None:
        return 1
    try:
        js = nc.jetstream()
        try:
            letters = await list_dead_letters(js, mesh.province)
        except NotFoundError:
            print(f"motcua: no dead-letter stream for province {mesh.province} at "
                  f"{mesh.nats_url}: its streams are not provisioned (motcua streams "
                  "provision), or MOTCUA_PROVINCE names another province.", file=sys.stderr)
            return 1
        if action == "list":
            for letter in letters:
                _print(json.dumps(letter.as_dict(), ensure_ascii=False))
            _print(f"{len(letters)} dead letter(s)")
            return 0
        chosen = letters if replay_all else [x for x in letters if x.seq in set(seqs)]
        if not chosen:
            _print("nothing to replay (give sequence numbers or --all)")
            return 1
        for letter in chosen:
            await replay_dead_letter(js, mesh.province, letter)
            _print(f"replayed {letter.seq} to {letter.subject}")
    finally:
        await nc.close()
    return 0


def _serve(name: str) -> int:
    import uvicorn

    spec = registry.load(name)
    if spec is None:
        _print(f"unknown service {name!r}; known: {', '.join(registry.names())}")
        return 2
    settings = spec.settings()
    app = spec.create_app(settings)
    state = getattr(app, "state", None)  # a companion app may be plain WSGI/ASGI
    if state is not None:
        state.own_process = True  # this process is the service: tune its GC at startup
    uvicorn.run(app, host=settings.host, port=settings.resolved_port(), log_config=None,
                access_log=False, timeout_graceful_shutdown=10)
    return 0


def _service_urls(mesh: MeshSettings, given: list[str]) -> dict[str, str]:
    """Where each service listens: ``--url SERVICE=URL``, else its port on the mesh host."""
    urls = {}
    for name, default in DEFAULT_PORTS.items():
        port = os.environ.get(f"MOTCUA_{name.upper().replace('-', '_')}_PORT") or default
        urls[name] = mesh.local_url(int(port))
    for item in given:
        name, _, url = item.partition("=")
        if name not in urls or not url:
            raise SystemExit(f"--url wants SERVICE=URL with SERVICE one of {', '.join(urls)}")
        urls[name] = url.rstrip("/")
    return urls


def _simulate(args: argparse.Namespace) -> int:
    from motcua.simulate import (
        DAY,
        MONTH_DAYS,
        Progress,
        SetupError,
        SimulationConfig,
        Targets,
        simulate,
    )

    mesh = MeshSettings()
    dossiers = args.dossiers or (DAY * MONTH_DAYS if args.month else DAY)
    if dossiers < 1 or args.concurrency < 1:
        _print("--dossiers and --concurrency must be at least 1")
        return 2
    config = SimulationConfig(
        dossiers=dossiers, seed=args.seed, concurrency=args.concurrency,
        province=mesh.province, agencies=args.agencies, procedures=args.procedures,
        password=args.password or os.environ.get("MOTCUA_SIMULATE_PASSWORD") or "motcua-dev",
        arrival_interval_s=args.interval, wait_timeout_s=args.wait_timeout,
        hold_wait_s=min(30.0, args.wait_timeout / 4))
    targets = Targets.from_urls(_service_urls(mesh, args.url))
    progress = Progress(dossiers, enabled=not args.no_progress)

    async def run() -> Any:
        try:
            return await simulate(config, targets, progress=progress)
        finally:
            await targets.aclose()

    try:
        report = asyncio.run(run())
    except SetupError as exc:
        _print(f"cannot simulate: {exc}")
        return 2
    except KeyboardInterrupt:
        _print("\ninterrupted")
        return 130
    _print(report.text())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report.as_dict(), out, ensure_ascii=False, indent=2)
        _print(f"report written to {args.json}")
    return 0 if report.ok else 1


def _companions() -> dict[str, Any]:
    """The companion apps that can run here (an extra may need a development package)."""
    return {name: extra for name, extra in registry.discover_extras().items()
            if getattr(extra, "available", lambda: True)()}


_NATS = "nats-server"


class Keeper:
    """What ``motcua up`` runs, kept running: a child that exits while the mesh is up (a
    crash, a ``kill -9``), a service or the nats-server, is started again, at most once
    per ``RESTART_AFTER_S`` each. A service's outbox and consumers resume where they
    were; the nats-server comes back on its port with its JetStream store, and the
    services reconnect to it."""

    RESTART_AFTER_S = 2.0

    def __init__(self, *, say: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._starts: dict[str, Callable[[], subprocess.Popen[bytes]]] = {}
        self._started: dict[str, float] = {}
        #: Why the last start of a child that exited failed (until one succeeds).
        self._failing: dict[str, str] = {}
        #: Set when ``motcua up`` is asked to stop: nothing is started again after that.
        self.stopped = False
        self._say = say or _print
        self._clock = clock

    def run(self, name: str, start: Callable[[], subprocess.Popen[bytes]]) -> None:
        """Start ``name`` with ``start`` (which returns its process), and keep it running."""
        self.keep(name, start(), start)

    def keep(self, name: str, process: subprocess.Popen[bytes],
             start: Callable[[], subprocess.Popen[bytes]]) -> None:
        """Keep ``process``, started already, running: ``start`` starts it again."""
        self._starts[name] = start
        self._started[name] = self._clock()
        self.children[name] = process

    def check(self) -> None:
        """Start again each child that has exited (unless it was started moments ago: a
        child that fails at once is retried every ``RESTART_AFTER_S``). Each exit is told
        once, and a start that keeps failing once per reason (say its port taken, by a
        nats-server started by hand), not at every try."""
        for name, child in list(self.children.items()):
            if self.stopped:  # Ctrl-C reaches the children too: they are not restarted
                return
            if child.poll() is None or \
                    self._clock() - self._started[name] < self.RESTART_AFTER_S:
                continue
            failing = self._failing.get(name)
            if failing is None:
                self._say(f"{name} exited with {child.returncode}; restarting")
            self._started[name] = self._clock()
            try:
                self.children[name] = self._starts[name]()
            except (OSError, RuntimeError) as exc:  # a taken port, a start that timed out
                if str(exc) != failing:
                    self._say(f"{name} did not start again: {exc}; trying every "
                              f"{self.RESTART_AFTER_S:g} s")
                self._failing[name] = str(exc)
            else:
                if failing is not None:
                    self._say(f"{name} started again")
                self._failing.pop(name, None)


def _up(args: argparse.Namespace) -> int:
    mesh = MeshSettings()
    data_dir = mesh.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, MOTCUA_DATA_DIR=str(data_dir))
    extras = _companions()
    for extra in extras.values():
        # What a companion needs from the mesh in development (e.g. identity-bridge's
        # citizen sign-in at the VNeID stand-in, and its dev staff sign-in); variables
        # already set win.
        for key, value in getattr(extra, "mesh_environment", dict)().items():
            env.setdefault(key, value)
    keeper = Keeper()
    nats_server: NatsServer | None = None
    if not args.external_nats:
        port = int(mesh.nats_url.rsplit(":", 1)[-1])
        if port_open(port):
            _print(f"port {port} is taken; set MOTCUA_NATS_URL to another port, "
                   "or pass --external-nats to use the NATS listening there")
            return 1
        # Stopped last, after the services have drained (a Ctrl-C does not reach it).
        nats_server = NatsServer(data_dir / "nats", port, log_file=data_dir / "nats.log",
                                 own_process_group=True)
    env["MOTCUA_NATS_URL"] = nats_server.url if nats_server else mesh.nats_url
    os.environ.update(env)

    def _stop(*_: Any) -> None:
        keeper.stopped = True

    # Before anything starts, so that whatever started is stopped (a closed terminal too).
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    try:
        if nats_server is not None:
            keeper.keep(_NATS, nats_server.start().process, nats_server.restart)
            _print(f"nats-server   {nats_server.url}  (JetStream in {data_dir / 'nats'})")
        _migrate()
        asyncio.run(_streams("provision"))
        services = registry.discover()
        if not args.no_seed:
            for name, spec in services.items():
                if spec.seed is not None:
                    result = asyncio.run(spec.seed(spec.settings()))
                    _print(f"seeded {name}: {result}")
        logs = data_dir / "logs"
        logs.mkdir(exist_ok=True)

        def _start(name: str) -> subprocess.Popen[bytes]:
            out = open(logs / f"{name}.log", "ab")
            return subprocess.Popen([sys.executable, "-m", "motcua.cli", "serve", name],
                                    env=env, stdout=out, stderr=subprocess.STDOUT)

        for name in (*services, *extras):
            keeper.run(name, lambda name=name: _start(name))
        ready = _wait_ready(services, timeout=60, stop=lambda: keeper.stopped,
                            tick=keeper.check)
        for name, spec in services.items():
            port = spec.settings().resolved_port()
            state = "ready" if ready.get(name) else "NOT READY (see logs)"
            _print(f"{name:<15} http://{mesh.host}:{port}  docs /docs  [{state}]")
        for name, extra in extras.items():
            port = extra.settings().resolved_port()
            _print(f"{name:<15} http://{mesh.host}:{port}  (stand-in for an outside system)")
        if not args.no_seed and "vneid-simulator" in extras:
            _print("sample staff sign in with POST /v1/auth/dev-login (e.g. receptionist.01, "
                   "development password motcua-dev); citizens at vneid-simulator; "
                   "`motcua simulate --day` plays a day")
        _print(f"logs in {logs}; Ctrl-C stops everything")
        while not keeper.stopped:
            time.sleep(0.5)
            keeper.check()
    finally:
        services_first = [c for n, c in keeper.children.items() if n != _NATS]
        for child in services_first:
            if child.poll() is None:
                child.terminate()
        for child in services_first:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if nats_server is not None:
            nats_server.stop()
        _print("stopped")
    return 0


def _wait_ready(services: dict[str, Any], timeout: float, stop: Callable[[], bool],
                tick: Callable[[], None] = lambda: None) -> dict[str, bool]:
    """Which services answered ``/readyz`` 200 within ``timeout``; ``tick`` runs at each
    round (the keeper restarting a child that exited meanwhile)."""
    deadline = time.monotonic() + timeout
    ready = dict.fromkeys(services, False)
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline and not all(ready.values()) and not stop():
            for name, spec in services.items():
                if ready[name]:
                    continue
                port = spec.settings().resolved_port()
                try:
                    ready[name] = client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
                except httpx.HTTPError:
                    pass
            tick()
            time.sleep(0.3)
    return ready


if __name__ == "__main__":
    sys.exit(main())
