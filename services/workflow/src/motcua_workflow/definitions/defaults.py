"""Default process definitions for the seeded procedures, derived from intake's catalog.

The catalog (``services/intake/.../catalog/seed/procedures.json``) is read as *data* for
codes, names and statutory times; workflow never imports intake. The derived file
``default_definitions.json`` ships with this package and is regenerated with::

    python -m motcua_workflow.definitions.defaults \
        services/intake/src/motcua_intake/catalog/seed/procedures.json

A test checks the shipped file against the catalog, so a catalog change cannot silently
leave workflow with stale statutory times.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from motcua_workflow.definitions.schemas import DefinitionSpec

DEFAULTS_FILE = Path(__file__).with_name("default_definitions.json")
FALLBACK_CODE = "*"

# (key, name_vi, name_en, role, share of the statutory time, actions)
_STEPS = (
    ("process", "Thụ lý, thẩm định hồ sơ", "Examine the dossier", "processor", 0.60,
     ["forward", "request_supplement", "transfer", "refuse"]),
    ("approve", "Phê duyệt, ký kết quả", "Approve and sign the result", "approver", 0.25,
     ["approve", "sign", "send_back", "refuse"]),
    ("result", "Trả kết quả", "Issue and return the result", "receptionist", 0.15,
     ["complete", "return_result", "send_back", "transfer"]),
)
_BUNDLE_STEPS = (
    ("coordinate", "Điều phối liên thông", "Coordinate the inter-agency bundle",
     "receptionist", 1.0, ["transfer", "request_supplement", "refuse", "complete",
                           "return_result"]),
)


def _steps(template: tuple[Any, ...], hours: float | None) -> list[dict[str, Any]]:
    """Budgets in whole quarter hours that fit ``hours``; percentages when unknown."""
    steps = []
    for key, vi, en, role, share, actions in template:
        step: dict[str, Any] = {"key": key, "name_vi": vi, "name_en": en, "role": role,
                                "actions": actions}
        if hours is None:
            step["budget_percent"] = round(share * 100, 2)
        else:
            step["budget_hours"] = max(0.25, int(hours * share * 4) / 4)
        steps.append(step)
    if hours is not None:
        # Rounding down each share leaves slack; give it to the first step.
        slack = hours - sum(s["budget_hours"] for s in steps)
        steps[0]["budget_hours"] += slack
    return steps


def build_from_catalog(catalog: dict[str, Any]) -> list[dict[str, Any]]:
    """One definition per catalog procedure, plus the generic fallback (code ``*``)."""
    bundles = {b["code"]: [m for m in b.get("members", []) if isinstance(m, str)]
               for b in catalog.get("bundles", [])}
    out = []
    for proc in catalog["procedures"]:
        code = proc["national_code"]
        st = proc.get("statutory_time") or {}
        statutory = None
        if st.get("amount") is not None and st.get("unit"):
            statutory = {"amount": st["amount"], "unit": st["unit"], "cutoff": st.get("cutoff")}
        # Hours fit only a single working-time statute; per-channel or calendar-day times
        # (and unknown ones) get percentages of whatever the case's statutory time is.
        exact = statutory is not None and statutory["unit"] != "calendar_days" \
            and not st.get("per_channel")
        hours = (statutory["amount"] * (1 if statutory["unit"] == "working_hours" else 8)
                 if exact and statutory else None)
        members = bundles.get(code, [])
        template = _BUNDLE_STEPS if members else _STEPS
        short = statutory is not None and statutory["unit"] == "working_hours"
        definition = {
            "procedure_code": code,
            "name": proc["name_vi"],
            "statutory_time": statutory,
            "extension": {"amount": 4 if short else 1 if hours and hours <= 8 else 3,
                          "unit": "working_hours" if short else "working_days",
                          "cutoff": None},
            "members": members,
            "steps": _steps(template, hours),
        }
        out.append(DefinitionSpec.model_validate(definition).model_dump(mode="json"))
    out.append(DefinitionSpec.model_validate({
        "procedure_code": FALLBACK_CODE, "name": "Quy trình chung (mặc định)",
        "statutory_time": None, "members": [], "steps": _steps(_STEPS, None),
    }).model_dump(mode="json"))
    return out


@lru_cache(maxsize=1)
def packaged_defaults() -> dict[str, DefinitionSpec]:
    """The shipped default definitions by procedure code."""
    data = json.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    return {d["procedure_code"]: DefinitionSpec.model_validate(d) for d in data["definitions"]}


def render(catalog_path: str | Path) -> str:
    """The defaults file's text for a catalog file."""
    catalog = json.loads(Path(catalog_path).read_text(encoding="utf-8"))
    body = {"generated_from": "intake catalog seed (procedures.json), version "
                              f"{catalog.get('version')}",
            "definitions": build_from_catalog(catalog)}
    return json.dumps(body, ensure_ascii=False, indent=1) + "\n"


if __name__ == "__main__":  # pragma: no cover - maintenance command
    sys.stdout.write(render(sys.argv[1]))
