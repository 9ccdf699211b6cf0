"""The catalog as CSV: one row per procedure, nested parts as JSON cells.

Flat columns hold what a spreadsheet user edits most (codes, names, level, statutory
time, agencies); fee lines, components, variants, the financial obligation and the
bundle are JSON in their cells, so a row round-trips without loss. Lists of codes are
joined with ``;``. Columns after ``notes`` are written on export for information and
ignored on import (publication goes through the API).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from motcua.errors import FieldError, nul_characters
from motcua_intake.catalog.errors import CatalogCsvInvalid
from motcua_intake.catalog.schemas import CatalogDocument, ProcedureDefinition

_JSON = ("statutory_per_channel", "statutory_variants", "fee_lines", "financial_obligation",
         "components", "bundle")
_LISTS = ("agencies", "reception_points", "data_quality_flags")
COLUMNS = (
    "national_code", "local_code", "name_vi", "name_en", "field_vi", "field_en", "level",
    "level_as_published", "statutory_amount", "statutory_unit", "statutory_cutoff",
    "statutory_per_channel", "statutory_variants", "online_level", "result_kind",
    "agencies", "reception_points", "fee_lines", "financial_obligation", "components",
    "bundle", "source", "source_time_text", "source_fee_text", "data_quality_flags", "notes",
)
INFO_COLUMNS = ("status", "version", "valid_from", "valid_to", "published_at")
REQUIRED = ("national_code", "name_vi", "field_vi", "level")


def to_csv(rows: Iterable[tuple[ProcedureDefinition, dict[str, Any]]]) -> str:
    """CSV text of (definition, catalog state) pairs."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*COLUMNS, *INFO_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for definition, state in rows:
        d = definition.model_dump(mode="json")
        time = d.pop("statutory_time")
        flat: dict[str, Any] = {
            **{k: d.get(k) for k in COLUMNS if k in d},
            "statutory_amount": time["amount"], "statutory_unit": time["unit"],
            "statutory_cutoff": time["cutoff"], "statutory_per_channel": time["per_channel"],
            "statutory_variants": time["variants"] or None,
        }
        for key in _JSON:
            value = flat.get(key)
            flat[key] = json.dumps(value, ensure_ascii=False) if value not in (None, []) else ""
        for key in _LISTS:
            flat[key] = ";".join(flat.get(key) or [])
        flat.update({k: "" if state.get(k) is None else str(state[k]) for k in INFO_COLUMNS})
        writer.writerow({k: "" if v is None else v for k, v in flat.items()})
    return out.getvalue()


def from_csv(text: str) -> CatalogDocument:
    """Parse CSV text into a catalog document, or CatalogCsvInvalid listing every cell."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = reader.fieldnames or []
        rows = list(reader)
    except csv.Error as exc:  # e.g. a bare newline the sheet did not quote
        raise CatalogCsvInvalid(f"not a CSV sheet: {exc}", errors=[FieldError(
            field=f"rows.{reader.line_num}", code="field.csv", message=str(exc))]) from None
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS and c not in INFO_COLUMNS]
    if missing or unknown:
        raise CatalogCsvInvalid(errors=[
            *(FieldError(field=f"header.{c}", code="field.required", message="missing column")
              for c in missing),
            *(FieldError(field=f"header.{c}", code="field.unknown", message="unknown column")
              for c in unknown)])
    definitions: list[ProcedureDefinition] = []
    errors: list[FieldError] = []
    for line, row in enumerate(rows, start=2):
        where = f"rows.{line}"
        # PostgreSQL cannot store U+0000: refused here on both backends, in a cell or
        # inside a cell's JSON (an escape), by column or by the definition's field.
        if nul := nul_characters(row, where):
            errors += nul
            continue
        raw, row_errors = _row(row, where)
        row_errors = row_errors or nul_characters(raw, where)
        errors.extend(row_errors)
        if row_errors:
            continue
        try:
            definitions.append(ProcedureDefinition.model_validate(raw))
        except ValidationError as exc:
            errors.extend(FieldError(
                field=f"{where}." + ".".join(str(p) for p in e["loc"]) if e["loc"] else where,
                code="field.invalid", message=e["msg"]) for e in exc.errors())
    if errors:
        raise CatalogCsvInvalid(f"{len(errors)} cell(s) invalid", errors=errors)
    if not definitions:
        raise CatalogCsvInvalid("no procedure rows", errors=[FieldError(
            field="rows", code="field.required", message="at least one row")])
    return CatalogDocument(procedures=definitions)


def _row(row: dict[str, str | None], where: str) -> tuple[dict[str, Any], list[FieldError]]:
    errors: list[FieldError] = []
    cells = {k: (v or "").strip() for k, v in row.items() if k in COLUMNS}
    parsed: dict[str, Any] = {}
    for key in _JSON:
        text = cells.pop(key, "")
        try:
            parsed[key] = json.loads(text) if text else None
        except ValueError as exc:
            errors.append(FieldError(field=f"{where}.{key}", code="field.json",
                                     message=f"not JSON: {exc}"))
    amount = cells.pop("statutory_amount", "")
    time: dict[str, Any] = {"amount": None, "unit": cells.pop("statutory_unit", "") or None,
                            "cutoff": cells.pop("statutory_cutoff", "") or None,
                            "per_channel": parsed.pop("statutory_per_channel"),
                            "variants": parsed.pop("statutory_variants") or []}
    if amount:
        if amount.isdigit():
            time["amount"] = int(amount)
        else:
            errors.append(FieldError(field=f"{where}.statutory_amount",
                                     code="field.wrong_type", message="a whole number"))
    raw: dict[str, Any] = {k: v for k, v in cells.items() if v != "" and k not in _LISTS}
    for key in _LISTS:
        raw[key] = [p.strip() for p in cells.get(key, "").split(";") if p.strip()]
    raw["statutory_time"] = time
    for key in ("fee_lines", "components"):
        raw[key] = parsed.get(key) or []
    for key in ("financial_obligation", "bundle"):
        if parsed.get(key) is not None:
            raw[key] = parsed[key]
    return raw, errors
