"""`motcua up` as a user runs it: a child process on free ports and its own data
directory, signed in to with the seeded development staff, its nats-server killed with
-9 while it serves, and stopped with Ctrl-C (SIGINT to its process group)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from motcua.natsserver import free_port, port_open
from motcua.testing import wait_for
from tests.e2e.helpers import dossier_body

SERVICES = ("intake", "workflow", "payments", "identity-bridge", "metrics")


def _processes_with(text: str) -> list[int]:
    """Pids of the processes whose command line holds ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                found.append(int(entry.name))
    return found


class Up:
    """A running `motcua up`, its ports and its output."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ports = {name: free_port() for name in
                      (*SERVICES, "payments-simulator", "vneid-simulator")}
        self.nats_port = free_port()
        self.output = root / "up.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
        env.update({f"MOTCUA_{name.upper().replace('-', '_')}_PORT": str(port)
                    for name, port in self.ports.items()})
        # Only ports: the addresses services give each other follow them (the JWKS URL
        # of identity-bridge, payments' gateway and the simulator's IPN target).
        env.update(MOTCUA_DATA_DIR=str(root / "var"),
                   MOTCUA_NATS_URL=f"nats://127.0.0.1:{self.nats_port}")
        with self.output.open("wb") as out:
            # A session of its own, as a terminal gives it: Ctrl-C goes to its group.
            self.process = subprocess.Popen([sys.executable, "-m", "motcua.cli", "up"],
                                            env=env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def said(self) -> str:
        return self.output.read_text(errors="replace")

    def nats_pids(self) -> list[int]:
        return _processes_with(f"-sd {self.root / 'var' / 'nats'}")


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    running = Up(tmp_path)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            os.killpg(running.process.pid, signal.SIGKILL)
            running.process.wait()
        for pid in running.nats_pids() + _processes_with(str(tmp_path / "var")):
            os.kill(pid, signal.SIGKILL)


async def test_up_serves_the_slice_survives_its_nats_server_and_stops_on_ctrl_c(
        up: Up) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        async def all_ready() -> bool:
            if up.process.poll() is not None:
                raise AssertionError(f"motcua up exited:\n{up.said()}")
            for name in SERVICES:
                try:
                    if (await client.get(up.url(name) + "/readyz")).status_code != 200:
                        return False
                except httpx.HTTPError:
                    return False
            return True

        await wait_for(all_ready, timeout=180, what="five services ready")
        login = await client.post(up.url("identity-bridge") + "/v1/auth/dev-login", json={
            "username": "receptionist.01", "password": "motcua-dev"})
        assert login.status_code == 200, login.text
        auth = {"authorization": f"Bearer {login.json()['access_token']}"}

        async def counted() -> int:
            stats = await client.get(up.url("metrics") + "/v1/stats/dossiers")
            return int(stats.json()["submitted"])

        async def submit() -> None:
            answer = await client.post(up.url("intake") + "/v1/dossiers", json=dossier_body(),
                                       headers=auth)
            assert answer.status_code == 201, answer.text

        await submit()
        await wait_for(counted, what="the first dossier counted")

        [nats_pid] = up.nats_pids()
        os.kill(nats_pid, signal.SIGKILL)
        await submit()  # accepted while NATS is down: kept in intake's outbox
        try:
            await wait_for(lambda: "nats-server exited with -9; restarting" in up.said(),
                           what="up restarting its nats-server")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; up said:\n{up.said()}") from exc

        async def both_counted() -> bool:
            return await counted() == 2

        await wait_for(both_counted, timeout=60, what="the second dossier counted")

    os.killpg(up.process.pid, signal.SIGINT)  # Ctrl-C in the terminal
    assert up.process.wait(timeout=90) == 0
    said = up.said()
    assert said.rstrip().endswith("stopped")
    assert said.count("restarting") == 1  # the nats-server only, not the stopping children
    assert up.nats_pids() == []
    assert not any(port_open(port) for port in up.ports.values())
