"""The guard in front of an outside system: at most N calls at once, a pause after
failures in a row, one trial call after the pause (``motcua.guard``)."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from motcua.guard import CallGuard, CallRefused
from motcua.testing import FakeClock


class Down(Exception):
    """The outside system failed."""


class Refused(Exception):
    """The outside system answered no."""


def judge(exc: BaseException) -> bool | None:
    if isinstance(exc, Down):
        return True
    if isinstance(exc, Refused):
        return False
    return None


def new_guard(clock: FakeClock, **kw: int | float) -> CallGuard:
    settings = {"max_calls": 4, "failures_to_pause": 3, "pause_s": 30.0, **kw}
    return CallGuard("outside", judge=judge, clock=clock, **settings)  # type: ignore[arg-type]


async def attempt(guard: CallGuard, outcome: BaseException | None = None) -> str:
    """One call that ends with ``outcome``; what the caller saw."""
    try:
        async with guard.call():
            if outcome is not None:
                raise outcome
    except CallRefused as exc:
        return f"refused:{exc.reason}:{exc.retry_after_s}"
    except BaseException as exc:  # the call's own outcome, told to the test
        return type(exc).__name__
    return "ok"


async def fail_until_paused(guard: CallGuard) -> None:
    for _ in range(guard.failures_to_pause):
        assert await attempt(guard, Down()) == "Down"
    assert guard.state == "paused"


async def test_failures_in_a_row_pause_calls_until_a_trial_answers() -> None:
    clock = FakeClock()
    guard = new_guard(clock)
    assert [await attempt(guard, Down()) for _ in range(3)] == ["Down"] * 3
    assert guard.state == "paused"
    assert await attempt(guard) == "refused:paused:30"
    clock.now += 29.2
    assert await attempt(guard) == "refused:paused:1"
    clock.now += 1
    assert await attempt(guard) == "ok"  # the trial
    assert guard.state == "closed" and guard.failures_in_a_row == 0
    assert await attempt(guard) == "ok"
    assert guard.refused == {"busy": 0, "paused": 2} and guard.pauses == 1


async def test_a_failed_trial_pauses_again_for_the_whole_pause() -> None:
    clock = FakeClock()
    guard = new_guard(clock)
    await fail_until_paused(guard)
    clock.now += 30
    assert await attempt(guard, Down()) == "Down"  # the trial failed
    assert guard.state == "paused" and guard.pauses == 2
    assert await attempt(guard) == "refused:paused:30"


async def test_only_one_trial_at_a_time() -> None:
    clock = FakeClock()
    guard = new_guard(clock)
    await fail_until_paused(guard)
    clock.now += 30
    trial = guard.call()  # admitted: the trial, still waiting for its answer
    assert guard.state == "trial"
    assert await attempt(guard) == "refused:paused:1"
    async with trial:
        pass
    assert guard.state == "closed"
    assert await attempt(guard) == "ok"


async def test_an_answer_that_is_a_refusal_clears_the_count() -> None:
    guard = new_guard(FakeClock())
    outcomes = [Down(), Down(), Refused(), Down(), Down()]
    assert [await attempt(guard, o) for o in outcomes] == \
        ["Down", "Down", "Refused", "Down", "Down"]
    assert guard.state == "closed" and guard.failures_in_a_row == 2
    assert await attempt(guard, Down()) == "Down"
    assert guard.state == "paused"


async def test_a_cancelled_trial_says_nothing_and_frees_the_trial() -> None:
    clock = FakeClock()
    guard = new_guard(clock)
    await fail_until_paused(guard)
    clock.now += 30
    assert await attempt(guard, asyncio.CancelledError()) == "CancelledError"
    assert guard.state == "paused" and guard.failures_in_a_row == 3 and guard.pauses == 1
    assert await attempt(guard) == "ok"  # the next caller is the trial
    assert guard.state == "closed"


async def test_an_unjudged_error_neither_counts_nor_clears() -> None:
    guard = new_guard(FakeClock())
    await attempt(guard, Down())
    assert await attempt(guard, KeyError("bug")) == "KeyError"
    assert guard.failures_in_a_row == 1


async def test_calls_beyond_the_most_at_once_are_refused_at_once() -> None:
    guard = new_guard(FakeClock(), max_calls=2)
    first, second = guard.call(), guard.call()
    assert guard.in_flight == 2
    assert await attempt(guard) == "refused:busy:1"
    async with first:
        pass
    assert await attempt(guard) == "ok"
    async with second:
        pass
    assert guard.in_flight == 0 and guard.refused == {"busy": 1, "paused": 0}


async def test_a_call_answered_during_a_pause_ends_it() -> None:
    clock = FakeClock()
    guard = new_guard(clock)
    slow = guard.call()  # admitted before the failures
    await fail_until_paused(guard)
    assert guard.state == "paused"
    async with slow:  # it answers: the system is up after all
        pass
    assert guard.state == "closed"


async def test_figures_for_prometheus() -> None:
    clock = FakeClock()
    guard = new_guard(clock, max_calls=1)
    registry = CollectorRegistry()
    registry.register(guard.collector("payments"))
    labels = {"service": "payments", "guard": "outside"}
    held = guard.call()
    assert registry.get_sample_value("motcua_guard_calls_in_flight", labels) == 1
    await attempt(guard)
    async with held:
        pass
    await fail_until_paused(guard)
    await attempt(guard)
    assert registry.get_sample_value("motcua_guard_paused", labels) == 1
    assert registry.get_sample_value("motcua_guard_pauses_total", labels) == 1
    for reason in ("busy", "paused"):
        assert registry.get_sample_value("motcua_guard_refused_calls_total",
                                         {**labels, "reason": reason}) == 1


async def test_a_judge_that_raises_frees_the_place_and_the_trial() -> None:
    clock = FakeClock()

    def broken(exc: BaseException) -> bool | None:
        raise RuntimeError("judge bug")

    guard = CallGuard("outside", max_calls=1, failures_to_pause=1, pause_s=30, judge=broken,
                      clock=clock)
    with pytest.raises(RuntimeError):
        async with guard.call():
            raise Down()
    assert guard.in_flight == 0 and guard.state == "closed"
    assert await attempt(guard) == "ok"


@pytest.mark.parametrize("bad", [{"max_calls": 0}, {"failures_to_pause": 0}, {"pause_s": 0}])
def test_settings_that_would_refuse_everything_are_rejected(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        new_guard(FakeClock(), **bad)
