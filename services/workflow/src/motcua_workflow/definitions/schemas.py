"""Process definitions as declared (YAML/JSON) and as read back.

A definition lists the steps of a procedure's internal process in order; each step names
the officer role that does it, its budget in working time and the actions allowed there::

    procedure_code: "1.001193"
    name: Đăng ký khai sinh
    statutory_time: {amount: 1, unit: working_days, cutoff: "15:00"}
    extension: {amount: 1, unit: working_days}
    steps:
      - {key: process, name_vi: Thụ lý, role: processor, budget_hours: 5,
         actions: [forward, request_supplement, transfer, refuse]}
      - {key: approve, name_vi: Phê duyệt, role: approver, budget_hours: 2,
         actions: [approve, sign, send_back, refuse]}
      - {key: result, name_vi: Trả kết quả, role: receptionist, budget_hours: 1,
         actions: [complete, return_result, send_back]}

A step's role is one of the mesh's officer roles (``motcua.auth.ROLES`` but ``auditor``,
who only reads): the officer acting must hold it in the agency holding the case. The
names of earlier definitions are read as their mesh role (``specialist`` → processor,
``leader`` → approver, ``desk_officer`` → receptionist).

Budgets are either all ``budget_hours`` (their sum must fit the statutory time) or all
``budget_percent`` of the case's statutory time (sum ≤ 100).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Action = Literal["forward", "send_back", "request_supplement", "approve", "sign", "refuse",
                 "transfer", "complete", "return_result"]
ACTIONS: tuple[str, ...] = ("forward", "send_back", "request_supplement", "approve", "sign",
                            "refuse", "transfer", "complete", "return_result")
#: Actions that hand the case to the next step.
ADVANCING = frozenset({"forward", "approve", "sign"})
Unit = Literal["working_hours", "working_days", "calendar_days"]
_SLUG = r"^[a-z][a-z0-9_]{0,59}$"
#: Officer roles a step may demand (``motcua.auth.ROLES`` but the read-only auditor).
STEP_ROLES = ("receptionist", "processor", "approver", "agency_admin")
StepRole = Literal["receptionist", "processor", "approver", "agency_admin"]
#: Role names of definitions written before mesh tokens, read as the mesh role.
LEGACY_ROLES = {"specialist": "processor", "leader": "approver",
                "desk_officer": "receptionist"}
PROCEDURE_CODE = r"^(\*|\d\.\d{6}(\.[0-9A-Z.]{1,30})?)$"


class TimeSpec(BaseModel):
    """An amount of time as statutes state it."""

    model_config = ConfigDict(extra="forbid")
    amount: int = Field(ge=0, le=2600)
    unit: Unit
    cutoff: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")

    @property
    def hours(self) -> float:
        """Working hours this amounts to (calendar days: at most 8 working hours a day)."""
        return float(self.amount if self.unit == "working_hours" else self.amount * 8)


class StepSpec(BaseModel):
    """One step of the process: who does it, how long it may take, what they may do."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=_SLUG)
    name_vi: str = Field(min_length=1, max_length=200)
    name_en: str | None = Field(None, max_length=200)
    role: StepRole = Field(description="Officer role that does the step, in the agency "
                                        "holding the case")
    budget_hours: float | None = Field(None, gt=0, le=20800)
    budget_percent: float | None = Field(None, gt=0, le=100)
    actions: list[Action] = Field(min_length=1)

    @field_validator("role", mode="before")
    @classmethod
    def _mesh_role(cls, value: object) -> object:
        return LEGACY_ROLES.get(value, value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_budget(self) -> StepSpec:
        if (self.budget_hours is None) == (self.budget_percent is None):
            raise ValueError("a step needs exactly one of budget_hours and budget_percent")
        if len(set(self.actions)) != len(self.actions):
            raise ValueError("actions are listed more than once")
        return self

    def budget_minutes(self, statutory_hours: float | None) -> int | None:
        """The step's budget in working minutes (None: percent of an unknown time)."""
        if self.budget_hours is not None:
            return round(self.budget_hours * 60)
        if statutory_hours is None or self.budget_percent is None:
            return None
        return round(statutory_hours * 60 * self.budget_percent / 100)


class DefinitionSpec(BaseModel):
    """A procedure's process, as declared (importable from YAML or JSON)."""

    model_config = ConfigDict(extra="forbid")
    procedure_code: str = Field(pattern=PROCEDURE_CODE,
                                description="National TTHC code, or * for the fallback")
    name: str = Field(min_length=1, max_length=2000)
    statutory_time: TimeSpec | None = None
    #: The extension proposed on the apology slip (the officer may choose another date).
    extension: TimeSpec = TimeSpec(amount=3, unit="working_days")
    #: Member procedures run as sub-cases when this is a bundle (liên thông).
    members: list[str] = Field(default_factory=list, max_length=10)
    steps: list[StepSpec] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _consistent(self) -> DefinitionSpec:
        keys = [s.key for s in self.steps]
        if len(set(keys)) != len(keys):
            raise ValueError("step keys must be unique")
        kinds = {s.budget_hours is None for s in self.steps}
        if len(kinds) > 1:
            raise ValueError("budgets must be all budget_hours or all budget_percent")
        if self.steps[0].budget_percent is not None:
            if sum(s.budget_percent or 0 for s in self.steps) > 100 + 1e-9:
                raise ValueError("step budgets add up to more than 100 percent")
        elif self.statutory_time is None:
            raise ValueError("budget_hours need a statutory_time to fit in")
        elif sum(s.budget_hours or 0 for s in self.steps) > self.statutory_time.hours + 1e-9:
            raise ValueError(f"step budgets add up to more than the statutory time "
                             f"({self.statutory_time.hours:g} working hours)")
        if not any("complete" in s.actions for s in self.steps):
            raise ValueError("some step must allow complete")
        if any("complete" in s.actions and "return_result" not in s.actions for s in self.steps):
            raise ValueError("a step that allows complete must allow return_result too")
        return self

    def step(self, key: str | None) -> StepSpec | None:
        """The step called ``key``."""
        return next((s for s in self.steps if s.key == key), None)

    def index(self, key: str | None) -> int:
        """Position of step ``key`` (-1 if absent)."""
        return next((i for i, s in enumerate(self.steps) if s.key == key), -1)


class DefinitionRead(BaseModel):
    """A stored definition version."""

    id: str
    procedure_code: str
    version: int
    name: str
    source: str
    digest: str
    created_at: datetime
    definition: dict[str, Any]


class DefinitionPage(BaseModel):
    """A page of definitions."""

    items: list[DefinitionRead]
    next_cursor: str | None = None
