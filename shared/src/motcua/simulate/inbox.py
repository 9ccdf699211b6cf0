"""Officers' inboxes: one poller per agency, handing each open task to the dossier
waiting for it.

A simulated dossier waits for its next task the way an officer finds work: in the
agency's inbox (``GET /v1/tasks?agency=…&state=open``). One poller per agency lists the
open tasks while some dossier waits there, so the number of inbox reads does not grow
with the number of dossiers in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from motcua.simulate.http import Api, ApiError
from motcua.simulate.people import SignIn


class WaitTimeout(Exception):
    """Something the simulator waited for did not happen in time."""


@dataclass
class _Waiter:
    exclude: Collection[str]
    future: asyncio.Future[dict[str, Any]]


@dataclass
class _Agency:
    waiters: dict[str, list[_Waiter]] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class Inboxes:
    """The inboxes of the simulated agencies."""

    def __init__(self, api: Api, signin: SignIn, *, poll_s: float) -> None:
        self.api = api
        self.signin = signin
        self.poll_s = poll_s
        self._agencies: dict[str, _Agency] = {}
        #: Inbox reads made.
        self.reads = 0

    async def next_task(self, agency: str, dossier: str, *, exclude: Collection[str],
                        timeout: float) -> dict[str, Any]:
        """The first open task of ``dossier`` in ``agency``'s inbox not in ``exclude``."""
        state = self._agencies.setdefault(agency, _Agency())
        if state.task is None:
            state.task = asyncio.create_task(self._poll(agency, state))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(exclude, future)
        state.waiters.setdefault(dossier, []).append(waiter)
        state.wake.set()
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise WaitTimeout(f"no task for {dossier} in the inbox of {agency} after "
                              f"{timeout:.0f} s") from None
        finally:
            waiters = state.waiters.get(dossier, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                state.waiters.pop(dossier, None)

    async def _poll(self, agency: str, state: _Agency) -> None:
        while True:
            if not state.waiters:
                state.wake.clear()
                await state.wake.wait()
                continue
            try:
                tasks = await self._open_tasks(agency)
            except ApiError as exc:
                for waiters in state.waiters.values():
                    for w in waiters:
                        if not w.future.done():
                            w.future.set_exception(exc)
                await asyncio.sleep(self.poll_s)
                continue
            for task in tasks:
                for w in state.waiters.get(task["dossier_code"], []):
                    if not w.future.done() and task["id"] not in w.exclude:
                        w.future.set_result(task)
            await asyncio.sleep(self.poll_s)

    async def _open_tasks(self, agency: str) -> list[dict[str, Any]]:
        token = await self.signin.officer(agency, "processor")
        tasks: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"agency": agency, "state": "open", "limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = await self.api.json("workflow", "GET", "/v1/tasks", route="/v1/tasks",
                                       token=token, params=params)
            self.reads += 1
            tasks += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return tasks

    async def close(self) -> None:
        """Stop the pollers."""
        for state in self._agencies.values():
            if state.task is not None:
                state.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await state.task
