"""The hash chain of a process log: pure functions, no database.

``hash = SHA-256(prev_hash || "\\n" || canonical JSON of the entry)``, the first entry
chained to 64 zeros. Canonical JSON: sorted keys, no spaces, UTF-8, instants in UTC with
microseconds (``2026-03-02T02:00:00.000000Z``). Changing any field of any entry changes
its hash and breaks every later link; deleting an entry leaves a gap in ``seq`` and a
broken link; deleting the newest entries is caught against the head kept on the case
(and published on every event).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def instant(at: datetime) -> str:
    """An instant as the chain writes it."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(payload: dict[str, Any]) -> bytes:
    """Canonical JSON bytes of an entry."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def link(prev_hash: str, payload: dict[str, Any]) -> str:
    """The hash of an entry chained to ``prev_hash``."""
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical_json(payload)).hexdigest()


@dataclass
class Verification:
    """The result of checking a chain."""

    valid: bool = True
    length: int = 0
    head: str | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, seq: int | None, problem: str) -> None:
        """Record a problem."""
        self.valid = False
        self.problems.append({"seq": seq, "problem": problem})


def verify(entries: list[tuple[int, str, str, dict[str, Any]]], *, expected_length: int,
           expected_head: str | None) -> Verification:
    """Check ``(seq, prev_hash, hash, payload)`` entries in seq order against the head."""
    result = Verification()
    prev = GENESIS
    expected_seq = 1
    for seq, prev_hash, stored_hash, payload in entries:
        if seq != expected_seq:
            result.fail(expected_seq, f"entry missing: expected seq {expected_seq}, found {seq}")
            expected_seq = seq
        if prev_hash != prev:
            result.fail(seq, "prev_hash does not match the previous entry's hash")
        if link(prev_hash, payload) != stored_hash:
            result.fail(seq, "content does not match its hash (entry modified)")
        prev = stored_hash
        expected_seq += 1
    result.length = len(entries)
    result.head = prev if entries else None
    if len(entries) != expected_length or (entries and prev != expected_head):
        result.fail(None, f"chain ends at {len(entries)} entries / {str(result.head)[:12]}, "
                          f"the case records {expected_length} / {str(expected_head)[:12]}")
    return result
