"""Token buckets and failure locks on a fake clock (pure)."""

from __future__ import annotations

from motcua.testing import FakeClock
from motcua_intake.tracking.ratelimit import FailureLock, TokenBuckets


class TestTokenBuckets:
    def test_burst_then_refill(self) -> None:
        clock = FakeClock(0.0)
        buckets = TokenBuckets(3, 60.0, clock=clock)
        assert [buckets.take("ip") for _ in range(3)] == [0, 0, 0]
        assert buckets.take("ip") == 1.0
        assert buckets.take("other") == 0  # per key
        clock.now = 1.0
        assert buckets.take("ip") == 0

    def test_bounded(self) -> None:
        buckets = TokenBuckets(1, 1.0, max_keys=2, clock=FakeClock(0.0))
        for key in "abc":
            buckets.take(key)
        assert buckets.take("a") == 0  # "a" was dropped: a full bucket again


class TestFailureLock:
    def test_locks_after_max_failures_for_the_window(self) -> None:
        clock = FakeClock(0.0)
        lock = FailureLock(2, 1.0, clock=clock)
        lock.fail("code")
        assert lock.locked("code") == 0
        lock.fail("code")
        assert lock.locked("code") == 60.0
        clock.now = 61.0
        assert lock.locked("code") == 0

    def test_success_forgets(self) -> None:
        lock = FailureLock(1, 1.0, clock=FakeClock(0.0))
        lock.fail("code")
        lock.succeed("code")
        assert lock.locked("code") == 0
