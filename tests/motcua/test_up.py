"""`motcua up` keeps what it runs running (motcua.cli.Keeper): a service or its own
nats-server that exits, a crash or a kill -9, is started again."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js.api import StorageType, StreamConfig

from motcua.cli import Keeper, _wait_ready
from motcua.natsserver import NatsServer, free_port, port_open
from motcua.testing import FakeClock, wait_for


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


@pytest.fixture
def keeper() -> Iterator[tuple[Keeper, FakeClock, list[str]]]:
    clock, said = FakeClock(), list[str]()
    keeper = Keeper(say=said.append, clock=clock)
    yield keeper, clock, said
    for child in keeper.children.values():
        if child.poll() is None:
            child.kill()
            child.wait()


async def test_a_killed_nats_server_comes_back_with_its_stream(
        tmp_path: Path, keeper: tuple[Keeper, FakeClock, list[str]]) -> None:
    keeper_, clock, said = keeper
    server = NatsServer(tmp_path / "nats", free_port(), own_process_group=True)
    keeper_.keep("nats-server", server.start().process, server.restart)  # as `up` does
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="KEPT", subjects=["kept.>"],
                                         storage=StorageType.FILE))
        await js.publish("kept.one", b"accepted before the kill")
        await nc.close()
        first = server.process
        assert first is not None
        first.kill()  # kill -9
        first.wait()

        clock.now += Keeper.RESTART_AFTER_S
        keeper_.check()

        assert said == ["nats-server exited with -9; restarting"]
        restarted = keeper_.children["nats-server"]
        assert restarted is server.process is not first
        # Its own process group: a terminal's Ctrl-C reaches `up`, which stops it last.
        assert os.getpgid(restarted.pid) == restarted.pid != os.getpgid(0)
        # Not waited for (it may first recover its store): it listens when it is ready.
        await wait_for(lambda: port_open(server.port), what="nats-server listening again")
        nc = await nats.connect(server.url)  # the same port
        try:
            sub = await nc.jetstream().pull_subscribe("kept.>", durable="reader",
                                                      stream="KEPT")
            [msg] = await sub.fetch(1, timeout=5)
            assert msg.data == b"accepted before the kill"
        finally:
            await nc.close()
    finally:
        server.stop()


def test_a_child_that_exits_is_started_again_at_most_once_per_interval(
        keeper: tuple[Keeper, FakeClock, list[str]]) -> None:
    keeper_, clock, said = keeper
    keeper_.run("intake", _sleeper)
    first = keeper_.children["intake"]
    first.kill()
    first.wait()

    clock.now += Keeper.RESTART_AFTER_S / 2  # started moments ago: not yet
    keeper_.check()
    assert keeper_.children["intake"] is first and said == []

    clock.now += Keeper.RESTART_AFTER_S / 2
    keeper_.check()
    second = keeper_.children["intake"]
    assert second is not first and second.poll() is None
    assert said == ["intake exited with -9; restarting"]

    clock.now += Keeper.RESTART_AFTER_S
    keeper_.check()  # running: left alone
    assert keeper_.children["intake"] is second and len(said) == 1


def test_a_start_that_fails_is_tried_again_and_told_once(
        keeper: tuple[Keeper, FakeClock, list[str]]) -> None:
    keeper_, clock, said = keeper
    starts: list[str] = []

    def start() -> subprocess.Popen[bytes]:
        starts.append("start")
        if len(starts) in (2, 3):  # say a nats-server started by hand holds the port
            raise RuntimeError("port 4322 is already in use")
        return _sleeper()

    keeper_.run("nats-server", start)
    keeper_.children["nats-server"].kill()
    keeper_.children["nats-server"].wait()

    for _ in range(3):
        clock.now += Keeper.RESTART_AFTER_S
        keeper_.check()
    assert len(starts) == 4 and keeper_.children["nats-server"].poll() is None
    assert said == ["nats-server exited with -9; restarting",
                    "nats-server did not start again: port 4322 is already in use; "
                    "trying every 2 s",
                    "nats-server started again"]


def test_nothing_is_started_again_once_up_is_stopping(
        keeper: tuple[Keeper, FakeClock, list[str]]) -> None:
    keeper_, clock, said = keeper
    keeper_.run("intake", _sleeper)
    first = keeper_.children["intake"]
    keeper_.stopped = True  # Ctrl-C: it reaches the children as well
    first.kill()
    first.wait()

    clock.now += Keeper.RESTART_AFTER_S
    keeper_.check()
    assert keeper_.children["intake"] is first and said == []


def test_a_child_that_exits_while_up_waits_for_readiness_is_started_again(
        keeper: tuple[Keeper, FakeClock, list[str]]) -> None:
    """`motcua up` keeps its children from the start, not only once all were ready: a
    nats-server killed while a service is still starting comes back."""

    class NeverReady:
        @staticmethod
        def settings() -> object:
            return type("S", (), {"resolved_port": staticmethod(free_port)})()

    keeper_, clock, said = keeper
    keeper_.run("nats-server", _sleeper)
    first = keeper_.children["nats-server"]
    first.kill()
    first.wait()
    clock.now += Keeper.RESTART_AFTER_S
    rounds: list[None] = []

    def tick() -> None:
        rounds.append(None)
        keeper_.check()

    ready = _wait_ready({"intake": NeverReady}, timeout=60, stop=lambda: len(rounds) >= 2,
                        tick=tick)
    assert ready == {"intake": False}
    assert said == ["nats-server exited with -9; restarting"]
    assert keeper_.children["nats-server"].poll() is None
