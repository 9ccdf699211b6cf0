"""Versioned index configuration (weights, thresholds) and the units file.

The index configuration is a TOML file (the packaged ``index-v2.toml`` by default);
its ``version`` is echoed in every response. The units file maps agencies to their
commune, area type (urban / rural / disadvantaged, for productivity targets), number
of officials and names::

    [agencies."000.01.17.H56"]
    name_vi = "UBND xã A"
    name_en = "People's Committee of commune A"
    commune = "H56.C001"
    area_type = "rural"
    officials = 4
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

AreaType = Literal["urban", "rural", "disadvantaged"]
#: The configuration in force by default. ``index-v1.toml`` stays beside it unchanged so
#: figures published under version 1 can be reproduced (it has no catalog rules).
DEFAULT_INDEX = Path(__file__).with_name("index-v2.toml")


@dataclass(frozen=True)
class ItemConfig:
    """One scored item: maximum points and the ratio at which it scores full marks."""

    id: str
    group: str
    max: Fraction
    threshold: Fraction
    name_vi: str
    name_en: str


@dataclass(frozen=True)
class GroupConfig:
    """One of the six groups."""

    id: str
    max: Fraction
    name_vi: str
    name_en: str
    items: tuple[ItemConfig, ...]


@dataclass(frozen=True)
class CatalogRules:
    """Deadlines of the catalog items (publicity group), in working days.

    * **Announced on time** (``publicity.published_on_time``): the announcing decision
      is dated no later than ``announce_lead_working_days`` working days before the day
      the procedure takes effect (``valid_from``).
    * **Published on time** (``publicity.database_on_time``): the procedure was published
      (``published_at``) no later than ``publish_within_working_days`` working days after
      the announcing decision.
    """

    announce_lead_working_days: int
    publish_within_working_days: int


@dataclass(frozen=True)
class IndexConfig:
    """Weights, thresholds and classification parameters, with their version."""

    version: str
    groups: tuple[GroupConfig, ...]
    dislike_max_score: int
    max_supplement_requests: int
    productivity: dict[str, int]
    #: None: this configuration version predates the catalog items (they stay unavailable).
    catalog: CatalogRules | None = None

    def item(self, item_id: str) -> ItemConfig | None:
        """The item named ``item_id``, if any."""
        for group in self.groups:
            for item in group.items:
                if item.id == item_id:
                    return item
        return None

    @property
    def max_total(self) -> Fraction:
        """Sum of the groups' maxima (100)."""
        return sum((g.max for g in self.groups), Fraction(0))


def _frac(value: Any) -> Fraction:
    return Fraction(str(value))


def parse_index_config(data: dict[str, Any]) -> IndexConfig:
    """Build an :class:`IndexConfig` from parsed TOML (raises ValueError when inconsistent)."""
    groups = []
    for g in data["groups"]:
        items = tuple(ItemConfig(id=i["id"], group=g["id"], max=_frac(i["max"]),
                                 threshold=_frac(i["threshold"]), name_vi=i["name_vi"],
                                 name_en=i["name_en"]) for i in g["items"])
        for item in items:
            if not 0 < item.threshold <= 1 or item.max <= 0:
                raise ValueError(f"{item.id}: threshold must be in (0, 1] and max positive")
        groups.append(GroupConfig(id=g["id"], max=_frac(g["max"]), name_vi=g["name_vi"],
                                  name_en=g["name_en"], items=items))
    cls = data.get("classification", {})
    catalog = None
    if "catalog" in data:
        c = data["catalog"]
        catalog = CatalogRules(
            announce_lead_working_days=int(c["announce_lead_working_days"]),
            publish_within_working_days=int(c["publish_within_working_days"]))
        if catalog.announce_lead_working_days < 0 or catalog.publish_within_working_days < 0:
            raise ValueError("catalog deadlines must not be negative")
    return IndexConfig(version=str(data["version"]), groups=tuple(groups),
                       dislike_max_score=int(cls.get("dislike_max_score", 2)),
                       max_supplement_requests=int(cls.get("max_supplement_requests", 1)),
                       productivity={k: int(v) for k, v in data.get("productivity", {}).items()},
                       catalog=catalog)


@lru_cache(maxsize=8)
def load_index_config(path: Path | None = None) -> IndexConfig:
    """Read the index configuration (cached per path)."""
    with (path or DEFAULT_INDEX).open("rb") as f:
        return parse_index_config(tomllib.load(f))


@dataclass(frozen=True)
class Agency:
    """What the units file says about one agency."""

    code: str
    name_vi: str | None = None
    name_en: str | None = None
    commune: str | None = None
    area_type: AreaType | None = None
    officials: int | None = None


@dataclass(frozen=True)
class Units:
    """Agencies by code (empty when no units file is configured)."""

    agencies: dict[str, Agency] = field(default_factory=dict)

    def get(self, code: str) -> Agency:
        """The agency's entry, or a bare one."""
        return self.agencies.get(code) or Agency(code)

    def communes(self) -> list[str]:
        """Every commune named in the file."""
        return sorted({a.commune for a in self.agencies.values() if a.commune})


@lru_cache(maxsize=8)
def load_units(path: Path | None = None) -> Units:
    """Read the units file (cached per path); no file means no units."""
    if path is None:
        return Units()
    with path.open("rb") as f:
        data = tomllib.load(f)
    agencies = {}
    for code, entry in data.get("agencies", {}).items():
        area = entry.get("area_type")
        if area is not None and area not in ("urban", "rural", "disadvantaged"):
            raise ValueError(f"{code}: area_type must be urban, rural or disadvantaged")
        agencies[code] = Agency(code=code, name_vi=entry.get("name_vi"),
                                name_en=entry.get("name_en"), commune=entry.get("commune"),
                                area_type=area, officials=entry.get("officials"))
    return Units(agencies)
