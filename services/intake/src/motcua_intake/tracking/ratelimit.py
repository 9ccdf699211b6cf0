"""In-process rate limits for the public tracking endpoints.

Two limits, both kept in memory per process (a deployment with several replicas
multiplies them by the replica count; a shared store is the upgrade path):

* a token bucket per client IP: ``burst`` requests at once, refilled at ``per_minute``;
* wrong second factors per dossier code: after ``max_failures`` within ``lock_minutes``
  the code answers 429 for the rest of that window, whoever asks — four digits have only
  10,000 values, so guessing must be slower than trying them all.

Both tables are bounded (oldest entries dropped first) so a flood of distinct keys cannot
exhaust memory.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """One token bucket per key."""

    def __init__(self, burst: int, per_minute: float, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = burst
        self.rate = per_minute / 60.0
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        """Take a token: 0 if allowed, else the seconds until one is available."""
        now = self.clock()
        bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        wait = 0.0
        if bucket.tokens >= 1:
            bucket.tokens -= 1
        else:
            wait = (1 - bucket.tokens) / self.rate if self.rate > 0 else math.inf
        self._buckets[key] = bucket
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


class FailureLock:
    """Counts failures per key in a fixed window; locked once the count is reached."""

    def __init__(self, max_failures: int, window_minutes: float, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window_minutes * 60.0
        self.max_keys = max_keys
        self.clock = clock
        self._failures: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def locked(self, key: str) -> float:
        """Seconds until ``key`` may be tried again (0 if not locked)."""
        entry = self._failures.get(key)
        if entry is None:
            return 0.0
        started, count = entry
        left = started + self.window - self.clock()
        if left <= 0:
            del self._failures[key]
            return 0.0
        return left if count >= self.max_failures else 0.0

    def fail(self, key: str) -> None:
        """Record a failure for ``key``."""
        now = self.clock()
        started, count = self._failures.pop(key, (now, 0))
        if started + self.window <= now:
            started, count = now, 0
        self._failures[key] = (started, count + 1)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def succeed(self, key: str) -> None:
        """Forget the failures of ``key``."""
        self._failures.pop(key, None)
