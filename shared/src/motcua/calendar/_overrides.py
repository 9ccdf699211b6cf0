"""Per-deployment overrides: announced days off and working days the package lacks.

The file is TOML or JSON, chosen by its suffix, with two optional lists::

    [[day_off]]
    date = 2026-02-13
    reason = "Công văn 123/UBND: extra Tết day for provincial agencies"

    [[working_day]]
    date = 2026-02-28
    reason = "Make-up day for 13/02/2026"

    {"day_off": [{"date": "2026-02-13", "reason": "..."}], "working_day": []}

Every entry needs a date (a TOML date or an ISO ``YYYY-MM-DD`` string) and a non-empty
reason, which is quoted in due-date explanations. Unknown keys and a date listed twice are
errors, so a typo cannot silently leave the calendar unchanged.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

OverrideKind = Literal["day_off", "working_day"]
_KINDS: tuple[OverrideKind, ...] = ("day_off", "working_day")
_ENTRY_KEYS = frozenset({"date", "reason"})


class InvalidOverrides(ValueError):
    """The overrides file or list cannot be read as dated calendar changes."""


@dataclass(frozen=True, slots=True)
class Override:
    """An announced change to the working calendar (điều chỉnh lịch làm việc)."""

    day: date
    kind: OverrideKind
    reason: str

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InvalidOverrides(f"unknown override kind {self.kind!r}")
        if isinstance(self.day, datetime) or not isinstance(self.day, date):
            raise InvalidOverrides(f"override day must be a date, not {self.day!r}")
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise InvalidOverrides(f"override for {self.day} needs a reason")


def load_overrides(path: str | os.PathLike[str]) -> tuple[Override, ...]:
    """Read overrides from a ``.toml`` or ``.json`` file, sorted by date."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            with path.open("rb") as f:
                data = tomllib.load(f)
        elif suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            raise InvalidOverrides(f"{path}: expected a .toml or .json file")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InvalidOverrides(f"{path}: {exc}") from exc
    return _parse(data, source=str(path))


def check_unique(overrides: Iterable[Override]) -> dict[date, Override]:
    """Index overrides by day, refusing a day listed twice."""
    by_day: dict[date, Override] = {}
    for override in overrides:
        if override.day in by_day:
            raise InvalidOverrides(f"{override.day} is overridden more than once")
        by_day[override.day] = override
    return by_day


def _parse(data: Any, source: str) -> tuple[Override, ...]:
    """Turn the decoded file into overrides, naming the offending entry on error."""
    if not isinstance(data, Mapping):
        raise InvalidOverrides(f"{source}: expected a table with day_off/working_day lists")
    unknown = set(data) - set(_KINDS)
    if unknown:
        raise InvalidOverrides(f"{source}: unknown keys {sorted(unknown)}")
    overrides: list[Override] = []
    for kind in _KINDS:
        entries = data.get(kind, [])
        if not isinstance(entries, list):
            raise InvalidOverrides(f"{source}: {kind} must be a list of entries")
        for index, entry in enumerate(entries):
            where = f"{source}: {kind}[{index}]"
            if not isinstance(entry, Mapping) or set(entry) != _ENTRY_KEYS:
                raise InvalidOverrides(f"{where}: expected exactly the keys date and reason")
            try:
                overrides.append(Override(_as_date(entry["date"]), kind, entry["reason"]))
            except InvalidOverrides as exc:
                raise InvalidOverrides(f"{where}: {exc}") from exc
    check_unique(overrides)
    return tuple(sorted(overrides, key=lambda o: o.day))


def _as_date(value: Any) -> date:
    """Accept a TOML date or an ISO date string, nothing with a time."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise InvalidOverrides(f"{value!r} is not an ISO date") from exc
    raise InvalidOverrides(f"{value!r} is not a date")
