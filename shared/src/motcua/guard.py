"""A guard in front of a system outside the mesh: a bulkhead and a circuit breaker.

A service that calls a slow or dead outside system (the national payment platform, the
population database) would otherwise wait out each call's timeout, holding the request's
place (``max_requests_in_flight``) and often a database connection, until the whole
service answers nothing. :class:`CallGuard` bounds that:

* **at most** ``max_calls`` **calls at once**; the next one is refused at once
  (``busy``) instead of queueing behind calls that are not answering;
* **a pause after** ``failures_to_pause`` **failures in a row**: for ``pause_s`` every
  call is refused at once (``paused``, with the seconds left), then **one** trial call
  goes through while the others are still refused; its answer ends the pause, its
  failure starts another.

Each call is judged by ``judge(exception)``: ``True`` the system failed (a timeout, a
refused connection, a 5xx, an unreadable answer), ``False`` it answered (a refusal is an
answer: the system is up), ``None`` says nothing about it (a cancelled call, a bug on our
side). A call that returns answered. Any answer ends a pause and clears the count.

Written here rather than taken from a library: ``circuitbreaker`` (fabfuel) lets every
caller through once the pause is over, counts a cancelled call as a success and keeps a
process-wide registry; ``purgatory`` and ``aiobreaker`` bring repositories and listeners
this does not need. None has the bulkhead.

The state is per process, like the in-flight limit: each replica learns on its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from motcua.errors import Problem
from motcua.logging import get_logger

log = get_logger("motcua.guard")

Judge = Callable[[BaseException], bool | None]


class CallRefused(Exception):
    """The guard refused a call without making it: ``busy`` or ``paused``."""

    def __init__(self, guard: str, reason: Literal["busy", "paused"], retry_after_s: int,
                 detail: str) -> None:
        super().__init__(detail)
        self.guard = guard
        self.reason = reason
        self.retry_after_s = retry_after_s

    def problem(self, busy: type[Problem], paused: type[Problem], *,
                nothing_done: str) -> Problem:
        """The service's answer to this refusal: its ``busy`` or ``paused`` problem (503),
        saying what was not done (``"Nothing was asked"``), with Retry-After."""
        kind = busy if self.reason == "busy" else paused
        return kind(f"{self}. {nothing_done}; retry after the delay given.",
                    retry_after=self.retry_after_s)


class CallGuard:
    """Bulkhead and circuit breaker for calls to one outside system.

    Use ``async with guard.call(): ...`` around each call (``guard.call()`` raises
    :class:`CallRefused`). ``clock`` (monotonic seconds) is a seam for tests.
    """

    def __init__(self, name: str, *, max_calls: int, failures_to_pause: int, pause_s: float,
                 judge: Judge, clock: Callable[[], float] = time.monotonic) -> None:
        if max_calls < 1 or failures_to_pause < 1 or pause_s <= 0:
            raise ValueError("max_calls and failures_to_pause must be ≥ 1, pause_s > 0")
        self.name = name
        self.max_calls = max_calls
        self.failures_to_pause = failures_to_pause
        self.pause_s = pause_s
        self._judge = judge
        self.clock = clock
        self.in_flight = 0
        self.failures_in_a_row = 0
        self.paused_until: float | None = None
        self.trial_running = False
        self.refused = {"busy": 0, "paused": 0}
        self.pauses = 0

    @property
    def state(self) -> Literal["closed", "paused", "trial"]:
        """``closed`` (calls go through), ``paused`` or ``trial`` (one call is trying)."""
        if self.paused_until is None:
            return "closed"
        return "trial" if self.trial_running else "paused"

    def call(self) -> _Call:
        """Admit one call or raise :class:`CallRefused`. The call holds its place from
        here: enter it at once (``async with guard.call():``), with no await between."""
        trial = False
        if self.paused_until is not None:
            left = self.paused_until - self.clock()
            if left > 0 or self.trial_running:
                self.refused["paused"] += 1
                raise CallRefused(
                    self.name, "paused", max(1, math.ceil(left)),
                    f"calls to {self.name} are paused after {self.failures_in_a_row} "
                    "failures in a row" + (f"; the next try in {math.ceil(left)} s" if left > 0
                                           else "; a trial call is under way"))
            trial = True
        if self.in_flight >= self.max_calls:
            self.refused["busy"] += 1
            raise CallRefused(self.name, "busy", 1,
                              f"{self.max_calls} calls to {self.name} are already waiting "
                              "for an answer, the most this service makes at once")
        self.in_flight += 1
        if trial:
            self.trial_running = True
        return _Call(self, trial)

    def _ended(self, trial: bool, failed: bool | None, exc: BaseException | None) -> None:
        self.in_flight -= 1
        if trial:
            self.trial_running = False
        if failed is None:
            return
        if not failed:
            self.failures_in_a_row = 0
            if self.paused_until is not None:
                self.paused_until = None
                log.info("guard_resumed", guard=self.name)
            return
        self.failures_in_a_row += 1
        if trial or (self.paused_until is None
                     and self.failures_in_a_row >= self.failures_to_pause):
            self.paused_until = self.clock() + self.pause_s
            self.pauses += 1
            log.warning("guard_paused", guard=self.name, failures=self.failures_in_a_row,
                        pause_s=self.pause_s, trial=trial,
                        error=f"{type(exc).__name__}: {exc}"[:200])

    def collector(self, service: str) -> Collector:
        """Prometheus figures of this guard, read at scrape time."""
        return _GuardCollector(self, service)


class _Call:
    """One admitted call; its outcome is judged on exit."""

    __slots__ = ("_guard", "_trial")

    def __init__(self, guard: CallGuard, trial: bool) -> None:
        self._guard = guard
        self._trial = trial

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        failed: bool | None = None
        try:
            failed = False if exc is None else self._guard._judge(exc)
        finally:  # a judge that raises must not keep the place (or the trial) for ever
            self._guard._ended(self._trial, failed, exc)


class _GuardCollector(Collector):
    def __init__(self, guard: CallGuard, service: str) -> None:
        self.guard = guard
        self.labels = [service, guard.name]

    def collect(self) -> Iterator[Metric]:
        g = self.guard
        paused = GaugeMetricFamily("motcua_guard_paused", "1 while calls to an outside "
                                   "system are paused after repeated failures",
                                   labels=["service", "guard"])
        paused.add_metric(self.labels, 0 if g.paused_until is None else 1)
        yield paused
        calls = GaugeMetricFamily("motcua_guard_calls_in_flight", "Calls to an outside "
                                  "system waiting for an answer", labels=["service", "guard"])
        calls.add_metric(self.labels, g.in_flight)
        yield calls
        refused = CounterMetricFamily("motcua_guard_refused_calls", "Calls to an outside "
                                      "system refused without being made",
                                      labels=["service", "guard", "reason"])
        for reason, n in g.refused.items():
            refused.add_metric([*self.labels, reason], n)
        yield refused
        pauses = CounterMetricFamily("motcua_guard_pauses", "Pauses of calls to an outside "
                                     "system", labels=["service", "guard"])
        pauses.add_metric(self.labels, g.pauses)
        yield pauses
