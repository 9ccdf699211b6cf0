"""The shipped default definitions follow intake's seeded catalog (read as data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from motcua_workflow.definitions.defaults import (
    DEFAULTS_FILE,
    FALLBACK_CODE,
    build_from_catalog,
    packaged_defaults,
)
from motcua_workflow.definitions.schemas import DefinitionSpec

CATALOG = (Path(__file__).resolve().parents[3] / "services" / "intake" / "src"
           / "motcua_intake" / "catalog" / "seed" / "procedures.json")


class TestDefaults:
    def test_shipped_file_matches_the_catalog(self):
        catalog = json.loads(CATALOG.read_text(encoding="utf-8"))
        shipped = json.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))["definitions"]
        assert shipped == build_from_catalog(catalog), (
            "the catalog changed: regenerate with `python -m "
            "motcua_workflow.definitions.defaults <catalog> > default_definitions.json`")

    def test_every_seeded_procedure_and_the_fallback_has_one(self):
        catalog = json.loads(CATALOG.read_text(encoding="utf-8"))
        codes = {p["national_code"] for p in catalog["procedures"]}
        assert set(packaged_defaults()) == codes | {FALLBACK_CODE}

    def test_budgets_fit_the_statutory_time(self):
        for spec in packaged_defaults().values():
            if spec.steps[0].budget_hours is not None:
                assert spec.statutory_time is not None
                assert sum(s.budget_hours or 0 for s in spec.steps) == spec.statutory_time.hours

    def test_bundles_name_their_members(self):
        assert packaged_defaults()["2.000986"].members == ["1.001193", "1.004222", "1.014137"]


def _spec(**overrides):
    body = {"procedure_code": "1.001193", "name": "x",
            "statutory_time": {"amount": 1, "unit": "working_days"},
            "steps": [{"key": "a", "name_vi": "A", "role": "specialist", "budget_hours": 6,
                       "actions": ["forward"]},
                      {"key": "b", "name_vi": "B", "role": "leader", "budget_hours": 2,
                       "actions": ["complete", "return_result"]}]}
    body.update(overrides)
    return DefinitionSpec.model_validate(body)


class TestValidation:
    def test_a_valid_definition(self):
        spec = _spec()
        assert spec.index("b") == 1 and spec.step("a").budget_minutes(8) == 360

    def test_earlier_role_names_are_read_as_mesh_roles(self):
        # Stored before mesh tokens: specialist, leader, desk_officer.
        spec = _spec()
        assert [s.role for s in spec.steps] == ["processor", "approver"]
        assert _spec(steps=[{"key": "a", "name_vi": "A", "role": "desk_officer",
                             "budget_hours": 1, "actions": ["complete", "return_result"]}]
                     ).steps[0].role == "receptionist"

    @pytest.mark.parametrize("role", ["auditor", "police_officer", "Processor"])
    def test_a_step_role_is_an_acting_officer_role(self, role):
        with pytest.raises(ValidationError, match=r"steps\.0\.role"):
            _spec(steps=[{"key": "a", "name_vi": "A", "role": role, "budget_hours": 1,
                          "actions": ["complete", "return_result"]}])

    @pytest.mark.parametrize(("change", "message"), [
        ({"statutory_time": {"amount": 4, "unit": "working_hours"}}, "more than the statutory"),
        ({"statutory_time": None}, "need a statutory_time"),
        ({"steps": [{"key": "a", "name_vi": "A", "role": "processor", "budget_hours": 1,
                     "actions": ["forward"]}]}, "some step must allow complete"),
        ({"steps": [{"key": "a", "name_vi": "A", "role": "processor", "budget_hours": 1,
                     "actions": ["complete"]}]}, "must allow return_result"),
        ({"steps": [{"key": "a", "name_vi": "A", "role": "processor", "budget_percent": 60,
                     "actions": ["complete", "return_result"]},
                    {"key": "a", "name_vi": "B", "role": "processor", "budget_percent": 30,
                     "actions": ["forward"]}]}, "unique"),
        ({"steps": [{"key": "a", "name_vi": "A", "role": "processor", "budget_percent": 80,
                     "actions": ["complete", "return_result"]},
                    {"key": "b", "name_vi": "B", "role": "processor", "budget_percent": 30,
                     "actions": ["forward"]}]}, "100 percent"),
        ({"steps": [{"key": "a", "name_vi": "A", "role": "processor", "budget_percent": 50,
                     "actions": ["complete", "return_result"]},
                    {"key": "b", "name_vi": "B", "role": "processor", "budget_hours": 1,
                     "actions": ["forward"]}]}, "all budget_hours or all budget_percent"),
        ({"procedure_code": "H56-1"}, "pattern"),
    ])
    def test_refuses_inconsistent_definitions(self, change, message):
        with pytest.raises(ValidationError, match=message):
            _spec(**change)
