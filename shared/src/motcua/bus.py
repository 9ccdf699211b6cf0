"""The service's NATS connection, kept alive in the background.

A service must start and keep accepting work while NATS is down (the outbox holds the
events), so the first connection is retried forever here rather than failing start-up.
"""

from __future__ import annotations

import asyncio
import contextlib

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from motcua.logging import get_logger

log = get_logger("motcua.bus")


class Bus:
    """A NATS connection with JetStream that (re)connects in the background."""

    def __init__(self, url: str, *, name: str) -> None:
        self.url = url
        self.name = name
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._connected = asyncio.Event()

    @property
    def connected(self) -> bool:
        """Whether the connection is up right now."""
        return self._nc is not None and self._nc.is_connected

    @property
    def js(self) -> JetStreamContext:
        """The JetStream context (raises if never connected)."""
        if self._js is None:
            raise ConnectionError("NATS not connected yet")
        return self._js

    @property
    def nc(self) -> Client:
        """The core NATS client (raises if never connected)."""
        if self._nc is None:
            raise ConnectionError("NATS not connected yet")
        return self._nc

    async def wait_connected(self) -> None:
        """Wait until the first connection is made."""
        await self._connected.wait()

    async def run(self) -> None:
        """Connect, retrying with backoff; nats-py reconnects by itself afterwards."""
        delay = 0.2
        while self._nc is None:
            try:
                nc = await nats.connect(
                    self.url, name=self.name, allow_reconnect=True,
                    max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                    connect_timeout=2, error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected, reconnected_cb=self._on_reconnected,
                )
            except Exception as exc:
                log.warning("nats_connect_failed", url=self.url, error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._nc = nc
            self._js = nc.jetstream(timeout=5)
            self._connected.set()
            log.info("nats_connected", url=self.url)

    async def close(self) -> None:
        """Drain and close the connection."""
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), timeout=5)

    async def _on_error(self, exc: Exception) -> None:
        log.warning("nats_error", error=str(exc))

    async def _on_disconnected(self) -> None:
        log.warning("nats_disconnected")

    async def _on_reconnected(self) -> None:
        log.info("nats_reconnected")
