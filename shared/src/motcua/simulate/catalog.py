"""What the province offers, read from intake's public catalog, and what a dossier needs.

Only what a citizen portal could know: the published procedures (their components,
fee lines, competent agencies and reception points) and the agencies. Bundles
(liên thông procedures run as member cases) are left out of the simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from motcua.simulate.http import Api


@dataclass(frozen=True)
class Agency:
    """An agency the simulator has staff for."""

    code: str
    name: str
    level: str


@dataclass(frozen=True)
class Procedure:
    """A published procedure the simulated province receives."""

    code: str
    name: str
    level: str
    definition: dict[str, Any]
    #: Competent agencies and reception points among the simulated agencies.
    agencies: tuple[str, ...]
    reception_points: tuple[str, ...]
    components: tuple[dict[str, Any], ...] = field(default=())

    @property
    def fee_lines(self) -> list[dict[str, Any]]:
        """The catalog's fee lines."""
        return list(self.definition.get("fee_lines") or [])

    def required(self) -> list[dict[str, Any]]:
        """Required components, in catalog order."""
        return [c for c in self.components if c.get("required")]

    def optional(self) -> list[dict[str, Any]]:
        """Optional components."""
        return [c for c in self.components if not c.get("required")]


def _in_force(line: dict[str, Any], day: date) -> bool:
    start, end = line.get("valid_from"), line.get("valid_to")
    return (start is None or date.fromisoformat(start) <= day) and \
        (end is None or day <= date.fromisoformat(end))


def applicable_fee_lines(procedure: Procedure, channel: str, day: date) -> list[dict[str, Any]]:
    """The lines intake sends with ``dossier.received`` (same rule as intake's catalog):
    one per code, for the channel and the day, a dated line beating an undated one;
    optional and conditional lines are left out."""
    chosen: dict[str, dict[str, Any]] = {}
    for line in procedure.fee_lines:
        if line.get("optional") or line.get("condition_vi"):
            continue
        channels = line.get("channel")
        if (channels is not None and channel not in channels) or not _in_force(line, day):
            continue
        current = chosen.get(line["code"])
        dated = line.get("valid_from") is not None or line.get("valid_to") is not None
        if current is None or (dated and current.get("valid_from") is None
                               and current.get("valid_to") is None):
            chosen[line["code"]] = line
    return list(chosen.values())


def due_before_processing(procedure: Procedure, channel: str, day: date) -> int:
    """VND to pay before processing when no exemption is claimed (0: the case will not
    wait for payment)."""
    return sum(line["amount_vnd"] for line in applicable_fee_lines(procedure, channel, day)
               if line.get("amount_vnd") and line.get("collect") == "before")


def exemptions_of(procedure: Procedure) -> list[str]:
    """The applicant categories the procedure's fee lines name."""
    return sorted({e for line in procedure.fee_lines for e in line.get("exemptions") or []})


async def _pages(api: Api, path: str, route: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await api.json("intake", "GET", path, route=route,
                              params={**params, "limit": 200,
                                      **({"cursor": cursor} if cursor else {})})
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


async def load_agencies(api: Api, codes: list[str]) -> dict[str, Agency]:
    """The simulated agencies as intake knows them (unknown codes are left out)."""
    found = await _pages(api, "/v1/agencies", "/v1/agencies", {})
    wanted = set(codes)
    return {a["code"]: Agency(a["code"], a["name_vi"], a["level"]) for a in found
            if a["code"] in wanted and a.get("replaced_by") is None}


async def load_procedures(api: Api, agencies: dict[str, Agency], today: date,
                          only: list[str] | None = None) -> list[Procedure]:
    """Published, configured, non-bundle procedures decided and received by the
    simulated agencies, in code order."""
    summaries = await _pages(api, "/v1/procedures", "/v1/procedures",
                             {"status": "published", "bundle": "false"})
    procedures = []
    for summary in sorted(summaries, key=lambda s: s["national_code"]):
        code = summary["national_code"]
        if only is not None and code not in only:
            continue
        if summary.get("is_bundle") or summary.get("statutory_amount") is None:
            continue
        start, end = summary.get("valid_from"), summary.get("valid_to")
        if (start and date.fromisoformat(start) > today) or \
                (end and date.fromisoformat(end) < today):
            continue
        full = await api.json("intake", "GET", f"/v1/procedures/{code}",
                              route="/v1/procedures/{code}")
        definition = full["definition"]
        competent = tuple(a for a in definition.get("agencies") or [] if a in agencies)
        points = tuple(a for a in definition.get("reception_points") or [] if a in agencies)
        if not competent or not points or definition.get("bundle"):
            continue
        procedures.append(Procedure(code, definition["name_vi"], definition["level"],
                                    definition, competent, points,
                                    tuple(definition.get("components") or [])))
    return procedures
