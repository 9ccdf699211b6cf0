"""What a simulation did: outcomes, features, HTTP traffic, and the metrics cross-check;
plus the progress line shown while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TextIO

from motcua.simulate.http import HttpStats

_FEATURES = (
    ("channel:online", "online submissions"), ("channel:direct", "desk submissions"),
    ("channel:postal", "postal submissions"), ("received", "received"),
    ("refused_at_reception", "refused at reception"),
    ("attachments_uploaded", "files uploaded"),
    ("documents_from_data_store", "components from the data store"),
    ("exemptions_claimed", "fee exemptions claimed"),
    ("supplements_requested", "supplement requests"),
    ("supplements_supplied", "supplements supplied"), ("transfers", "transfers"),
    ("transfers_acknowledged", "transfers acknowledged"),
    ("extensions", "apologies with extension"), ("sent_back", "sent back by the approver"),
    ("stopped", "processing stopped"), ("withdrawn", "withdrawn"),
    ("payments_online", "paid online (gateway)"), ("payments_counter", "paid at the counter"),
    ("payments_abandoned", "online payments abandoned, then paid"),
    ("payments_unexpected", "payments the catalog did not announce"),
    ("paid_vnd_online", "VND paid online"), ("paid_vnd_counter", "VND paid at the counter"),
    ("results_issued", "results issued"), ("results_returned", "results returned"),
    ("left_in_progress", "left in progress"), ("ratings", "ratings"),
    ("complaints", "complaints"),
)


@dataclass
class Report:
    """The outcome of a run."""

    seed: int | str
    dossiers: int
    started_at: str
    seconds: float = 0.0
    planned: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    features: Counter[str] = field(default_factory=Counter)
    sign_ins: dict[str, int] = field(default_factory=dict)
    failed: list[dict[str, Any]] = field(default_factory=list)
    #: What the mesh got wrong while the stories went on (e.g. a case that never waited
    #: for a fee payments asks before processing).
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    journeys: list[dict[str, Any]] = field(default_factory=list)
    http: HttpStats = field(default_factory=HttpStats)
    #: Expected vs projected counts in metrics (``GET /v1/stats/dossiers?since=``).
    metrics: dict[str, Any] = field(default_factory=dict)
    index: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No journey failed, no unexpected answer, no anomaly, metrics agree."""
        return not self.failed and not self.http.failures and not self.anomalies and \
            bool(self.metrics.get("consistent"))

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view."""
        return {"ok": self.ok, "seed": self.seed, "dossiers": self.dossiers,
                "started_at": self.started_at, "seconds": round(self.seconds, 1),
                "planned": dict(self.planned), "outcomes": dict(self.outcomes),
                "features": dict(self.features), "sign_ins": self.sign_ins,
                "failed": self.failed, "anomalies": self.anomalies, "http": self.http.as_dict(),
                "metrics": self.metrics, "index": self.index, "journeys": self.journeys}

    def text(self) -> str:
        """The summary printed at the end."""
        out = [f"Simulated {self.dossiers} dossiers (seed {self.seed}) in "
               f"{self.seconds:.1f} s, from {self.started_at}", "", "Outcomes (done / planned):"]
        for story in sorted(self.planned, key=lambda s: -self.planned[s]):
            out.append(f"  {story:<14} {self.outcomes.get(story, 0):>6} / {self.planned[story]}")
        if self.failed:
            out.append(f"  {'failed':<14} {len(self.failed):>6}")
        out += ["", "What happened:"]
        for key, label in _FEATURES:
            if self.features.get(key):
                out.append(f"  {label:<40} {self.features[key]:>10,}")
        ratings = {int(k.split(":")[1]): v for k, v in self.features.items()
                   if k.startswith("rating:")}
        if ratings:
            mean = sum(k * v for k, v in ratings.items()) / sum(ratings.values())
            out.append(f"  {'mean rating':<40} {mean:>10.2f}")
        out.append(f"  {'citizen sign-ins (OpenID Connect)':<40} "
                   f"{self.sign_ins.get('citizen', 0):>10,}")
        out.append(f"  {'officer sign-ins (dev-login)':<40} "
                   f"{self.sign_ins.get('officer', 0):>10,}")
        per_service: Counter[str] = Counter()
        for (service, _, _), n in self.http.requests.items():
            per_service[service] += n
        out += ["", f"HTTP requests: {self.http.total:,} ("
                + ", ".join(f"{s} {n:,}" for s, n in sorted(per_service.items())) + ")"]
        errors = self.http.errors()
        if errors:
            out.append("HTTP errors received: " + ", ".join(
                f"{s} {st}×{n}" for (s, st), n in sorted(errors.items())))
            for failure in self.http.failures[:20]:
                out.append(f"  {failure.line()}")
            if len(self.http.failures) > 20:
                out.append(f"  … {len(self.http.failures) - 20} more")
        else:
            out.append("HTTP errors received: none")
        if self.http.retried:
            out.append(f"Retried after 503 or a lost connection: {self.http.retried}")
        if self.failed:
            out += ["", "Failed dossiers:"]
            for f in self.failed[:20]:
                out.append(f"  #{f['index']} {f.get('code') or '(not submitted)'} "
                           f"[{f['story']}] {f['error']}")
        if self.anomalies:
            out += ["", f"Mesh inconsistencies observed ({len(self.anomalies)}):"]
            for a in self.anomalies[:20]:
                out.append(f"  {a['dossier']} [{a['kind']}] {a['detail']}")
        if self.metrics:
            m = self.metrics
            state = "consistent" if m.get("consistent") else "NOT consistent"
            out += ["", f"Metrics ({state} after {m.get('waited_s', 0):.1f} s): "
                        f"submitted {m.get('submitted')} (expected {m.get('expected_submitted')}),"
                        f" by status {m.get('by_status')} (expected {m.get('expected_by_status')})"]
        if self.index:
            out.append(f"Index {self.index.get('unit')} {self.index.get('period')}: "
                       f"{self.index.get('scaled_100')} / 100")
        return "\n".join(out)


class Progress:
    """A progress line on stderr: a bar when it is a terminal, a line per 10 % otherwise."""

    def __init__(self, total: int, *, stream: TextIO | None = None, enabled: bool = True,
                 ) -> None:
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.started = time.monotonic()
        self.done = 0
        self.failed = 0
        self.errors = 0
        self._last_tenth = -1
        self._task: asyncio.Task[None] | None = None
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def line(self) -> str:
        """The current progress line."""
        width = 30
        filled = int(width * self.done / self.total)
        bar = "█" * filled + "·" * (width - filled)
        elapsed = time.monotonic() - self.started
        return (f"[{bar}] {self.done}/{self.total} dossiers  failed {self.failed}  "
                f"HTTP errors {self.errors}  {elapsed:5.0f} s")

    def update(self, *, done: int, failed: int, errors: int) -> None:
        """New figures (printed at once when not a terminal and a tenth was crossed)."""
        self.done, self.failed, self.errors = done, failed, errors
        if not self.enabled or self._tty:
            return
        tenth = 10 * done // self.total
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            print(self.line(), file=self.stream, flush=True)

    async def _refresh(self) -> None:
        while True:
            print("\r" + self.line(), end="", file=self.stream, flush=True)
            await asyncio.sleep(0.5)

    def start(self) -> None:
        """Start redrawing (terminal only)."""
        if self.enabled and self._tty:
            self._task = asyncio.create_task(self._refresh())

    async def stop(self) -> None:
        """Draw the final line."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            print("\r" + self.line(), file=self.stream, flush=True)
        elif self.enabled and self._last_tenth < 10:
            print(self.line(), file=self.stream, flush=True)
