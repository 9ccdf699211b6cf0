"""Catalog bodies: a procedure's definition as imported, exported and stored.

The definition is the seed file's shape (``catalog/seed/procedures.json``, documented in
``docs/catalog-sources.md``) plus who handles the procedure: ``agencies`` (competent)
and ``reception_points`` (desks that receive it regardless of administrative boundary).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from motcua.contracts.intake import Channel, TimeUnit

NATIONAL_CODE = r"^\d\.\d{6}$"
LOCAL_CODE = r"^\d\.\d{6}\.[0-9A-Z.]{1,50}$"
PROCEDURE_CODE = r"^\d\.\d{6}(\.[0-9A-Z.]{1,50})?$"
AGENCY_CODE = r"^[0-9A-Z.]{1,35}$"
KEY = r"^[a-z0-9_]{1,80}$"

Level = Literal["province", "commune", "ministry_assigned"]
OnlineLevel = Literal["none", "partial", "full"]
ResultKind = Literal["paper", "electronic", "both"]
ComponentForm = Literal["original", "copy", "shown_only"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: The longest statutory time accepted: ten years of working days is beyond any (and
#: workflow's calendar answers no longer count).
MAX_STATUTORY_AMOUNT = 2600
StatutoryAmount = Annotated[int, Field(ge=0, le=MAX_STATUTORY_AMOUNT)]


class TimeVariant(_Strict):
    """An alternative or extra statutory time that applies under a condition."""

    amount: StatutoryAmount
    unit: TimeUnit
    mode: Literal["adds", "replaces"]
    condition_vi: str
    condition_en: str | None = None


class StatutoryTimeDef(_Strict):
    """Thời hạn giải quyết: amount and unit, optional cut-off, per-channel amounts."""

    amount: StatutoryAmount | None = None
    unit: TimeUnit | None = None
    cutoff: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    per_channel: dict[Channel, StatutoryAmount] | None = None
    variants: list[TimeVariant] = []

    @model_validator(mode="after")
    def _amount_with_unit(self) -> StatutoryTimeDef:
        if (self.amount is None) != (self.unit is None):
            raise ValueError("amount and unit are given together or not at all")
        if self.per_channel and self.unit is None:
            raise ValueError("per_channel needs a unit")
        return self

    def for_channel(self, channel: str) -> int | None:
        """The amount that applies on ``channel``."""
        if self.per_channel and channel in self.per_channel:
            return self.per_channel[channel]  # type: ignore[index]
        return self.amount


class FeeLineDef(_Strict):
    """A fee (lệ phí) or charge (phí) line; ``amount_vnd`` None = set locally, unknown."""

    code: str = Field(pattern=KEY)
    kind: Literal["fee", "charge"]
    label_vi: str = Field(min_length=1)
    label_en: str | None = None
    amount_vnd: int | None = Field(None, ge=0)
    collect: Literal["before", "after", "waived"] = "before"
    exemptions: list[str] = []
    per: str | None = None
    channel: list[Channel] | None = None
    optional: bool = False
    condition_vi: str | None = None
    condition_en: str | None = None
    max_vnd_per_copy: int | None = Field(None, ge=0)
    refundable: bool | None = None
    valid_from: date | None = None
    valid_to: date | None = None

    def applies(self, channel: str, day: date) -> bool:
        """Whether the line applies on ``channel`` on ``day``."""
        return (self.channel is None or channel in self.channel) and \
            (self.valid_from is None or self.valid_from <= day) and \
            (self.valid_to is None or day <= self.valid_to)


class FinancialObligation(_Strict):
    """A financial obligation determined by another authority (e.g. land tax), not a fee."""

    label_vi: str
    label_en: str | None = None
    determined_by: str
    amount_vnd: int | None = None
    collect: Literal["before", "after"] = "after"


class ComponentDef(_Strict):
    """A document component (thành phần hồ sơ)."""

    code: str = Field(pattern=KEY)
    name_vi: str = Field(min_length=1)
    name_en: str | None = None
    required: bool = True
    form: ComponentForm = "original"
    #: May be taken from the citizen's electronic data store (reuse, DuocLayTuKhoDMQG).
    from_data_store: bool = False


class BundleMemberRef(_Strict):
    """A bundle member that is not (or not yet) a procedure of this catalog."""

    national_code: str | None = None
    name_vi: str
    note: str | None = None


class BundleDef(_Strict):
    """A bundle (liên thông): the member procedures one dossier stands for."""

    status: Literal["current", "pre_reform"] = "current"
    members: list[str | BundleMemberRef] = Field(min_length=1)
    notes: str | None = None

    def member_codes(self) -> list[str]:
        """The members that are procedures of this catalog."""
        return [m for m in self.members if isinstance(m, str)]


_OPTIONAL_TEXT = frozenset({"local_code", "name_en", "field_en", "level_as_published",
                            "source", "source_time_text", "source_fee_text", "notes"})


class ProcedureDefinition(_Strict):
    """A procedure (thủ tục hành chính) as the catalog states it."""

    national_code: str = Field(pattern=NATIONAL_CODE, examples=["1.001193"])
    local_code: str | None = Field(None, pattern=LOCAL_CODE,
                                   examples=["1.001193.000.00.00.H56"])
    name_vi: str = Field(min_length=1, max_length=1000)
    name_en: str | None = Field(None, max_length=1000)
    field_vi: str = Field(min_length=1, max_length=255)
    field_en: str | None = None
    level: Level
    level_as_published: str | None = None
    statutory_time: StatutoryTimeDef
    fee_lines: list[FeeLineDef] = []
    financial_obligation: FinancialObligation | None = None
    components: list[ComponentDef] = []
    online_level: OnlineLevel = "partial"
    result_kind: ResultKind = "paper"
    bundle: BundleDef | None = None
    #: Competent agencies (cơ quan thực hiện) and reception points (nơi tiếp nhận).
    agencies: list[str] = []
    reception_points: list[str] = []
    source: str | None = None
    source_time_text: str | None = None
    source_fee_text: str | None = None
    data_quality_flags: list[str] = []
    notes: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, data: Any) -> Any:
        # An empty text and a missing one mean the same (and CSV cannot tell them apart).
        if isinstance(data, dict):
            data = {k: None if k in _OPTIONAL_TEXT and v == "" else v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _unique_codes(self) -> ProcedureDefinition:
        codes = [c.code for c in self.components]
        if len(codes) != len(set(codes)):
            raise ValueError("component codes must be unique")
        if self.local_code and not self.local_code.startswith(self.national_code + "."):
            raise ValueError("local_code must start with the national code")
        return self

    def exemption_keys(self) -> set[str]:
        """Every exemption an applicant may claim on this procedure."""
        return {key for line in self.fee_lines for key in line.exemptions}


class BundleEntry(_Strict):
    """A bundle as the seed file lists it, apart from its procedure entry."""

    code: str = Field(pattern=NATIONAL_CODE)
    name_vi: str | None = None
    status: Literal["current", "pre_reform"] = "current"
    members: list[str | BundleMemberRef] = Field(min_length=1)
    notes: str | None = None


class CatalogDocument(_Strict):
    """A catalog import/export document (the seed file's shape).

    ``bundles`` listed apart from their procedures are folded into each procedure's
    ``bundle`` on validation, so ``procedures`` is always complete.
    """

    version: int = 1
    source: str | None = None
    procedures: list[ProcedureDefinition]
    bundles: list[BundleEntry] = []

    @model_validator(mode="after")
    def _fold_bundles(self) -> CatalogDocument:
        by_code = {d.national_code: i for i, d in enumerate(self.procedures)}
        if len(by_code) != len(self.procedures):
            raise ValueError("a national code appears twice in procedures")
        for entry in self.bundles:
            if entry.code not in by_code:
                raise ValueError(f"bundle {entry.code} has no entry in procedures")
            i = by_code[entry.code]
            if self.procedures[i].bundle is None:
                self.procedures[i] = self.procedures[i].model_copy(update={"bundle": BundleDef(
                    status=entry.status, members=entry.members, notes=entry.notes)})
        return self


class ImportResult(BaseModel):
    """What an import did."""

    created: list[str]
    updated: list[str]
    unchanged: list[str]
    published: list[str]


class Publication(_Strict):
    """Publish (công bố) or withdraw a procedure.

    ``published``: its validity dates and the announcing decision's date replace the
    previous ones. ``withdrawn``: it stops accepting dossiers; the dates are kept unless
    given.
    """

    status: Literal["published", "withdrawn"] = "published"
    valid_from: date | None = None
    valid_to: date | None = None
    decision_date: date | None = Field(None, description="When the announcing decision "
                                                         "(quyết định công bố) was issued")

    @model_validator(mode="after")
    def _ordered(self) -> Publication:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class ProcedureRead(BaseModel):
    """A procedure with its catalog state."""

    national_code: str
    local_code: str | None
    name_vi: str
    name_en: str | None
    level: str
    status: Literal["draft", "published", "withdrawn"]
    version: int
    valid_from: date | None
    valid_to: date | None
    published_at: datetime | None
    decision_date: date | None = None
    updated_at: datetime | None
    definition: ProcedureDefinition


class ProcedureSummary(BaseModel):
    """A procedure in a list."""

    national_code: str
    local_code: str | None
    name_vi: str
    name_en: str | None
    field_vi: str | None
    level: str
    status: str
    version: int
    is_bundle: bool
    statutory_amount: int | None
    statutory_unit: str | None
    valid_from: date | None
    valid_to: date | None
    published_at: datetime | None


class ProcedurePage(BaseModel):
    """A page of procedures (cursor pagination, see docs/intake.md)."""

    items: list[ProcedureSummary]
    next_cursor: str | None


class RevisionRead(BaseModel):
    """One saved version of a procedure."""

    version: int
    status: str
    valid_from: date | None
    valid_to: date | None
    published_at: datetime | None
    decision_date: date | None = None
    created_at: datetime


class AgencyCreate(_Strict):
    """Register an agency or reception point; ``replaces`` maps old codes to this one."""

    code: str = Field(pattern=AGENCY_CODE, examples=["000.01.17.H56"])
    name_vi: str = Field(min_length=1, max_length=255)
    name_en: str | None = Field(None, max_length=255)
    level: Literal["province", "commune", "ministry_assigned", "other"]
    valid_from: date | None = None
    valid_to: date | None = None
    replaces: list[str] = []
    parent_code: str | None = Field(None, pattern=AGENCY_CODE,
                                    description="The agency it belongs to; its agency_admin "
                                                "may register it (none: top level)")


class AgencyRead(BaseModel):
    """An agency."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name_vi: str
    name_en: str | None
    level: str
    valid_from: date | None
    valid_to: date | None
    replaced_by: str | None
    parent_code: str | None = None


class AgencyPage(BaseModel):
    """A page of agencies."""

    items: list[AgencyRead]
    next_cursor: str | None
