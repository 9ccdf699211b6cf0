"""Which documents a dossier needs and whether what was handed in is acceptable (pure).

Sources allowed per channel: online → ``upload``, ``data_store``; postal → also
``paper``; direct → also ``shown`` (an original shown at the desk, only for components
whose form is ``shown_only``). ``data_store`` only for components the catalog marks
``from_data_store``. A bundle without components of its own needs its members'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from motcua.errors import FieldError
from motcua_intake.catalog.schemas import ComponentDef, ProcedureDefinition
from motcua_intake.dossiers.schemas import DocumentIn

SOURCES_BY_CHANNEL: Mapping[str, frozenset[str]] = {
    "online": frozenset({"upload", "data_store"}),
    "postal": frozenset({"upload", "data_store", "paper"}),
    "direct": frozenset({"upload", "data_store", "paper", "shown"}),
}
SUPPLEMENT_SOURCES = frozenset({"upload", "data_store", "paper"})


def components_of(definition: ProcedureDefinition,
                  members: Mapping[str, ProcedureDefinition]) -> list[ComponentDef]:
    """The procedure's components; a bundle without its own takes its members'."""
    if definition.components or definition.bundle is None:
        return list(definition.components)
    merged: dict[str, ComponentDef] = {}
    for code in definition.bundle.member_codes():
        member = members.get(code)
        for component in member.components if member else ():
            seen = merged.get(component.code)
            if seen is None:
                merged[component.code] = component
            elif component.required and not seen.required:
                merged[component.code] = seen.model_copy(update={"required": True})
    return list(merged.values())


def document_errors(documents: Iterable[DocumentIn], components: Iterable[ComponentDef],
                    allowed_sources: frozenset[str], *, field: str = "documents",
                    ) -> list[FieldError]:
    """Everything wrong with the documents as given (not counting missing components)."""
    by_code = {c.code: c for c in components}
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, doc in enumerate(documents):
        at = f"{field}.{i}"
        component = by_code.get(doc.component_code)
        if component is None:
            errors.append(FieldError(field=f"{at}.component_code", code="component.unknown",
                                     message=f"{doc.component_code} is not a component of "
                                             "this procedure"))
            continue
        if doc.component_code in seen:
            errors.append(FieldError(field=f"{at}.component_code", code="component.duplicate",
                                     message=f"{doc.component_code} is given twice"))
        seen.add(doc.component_code)
        if doc.source not in allowed_sources:
            errors.append(FieldError(field=f"{at}.source", code="source.not_allowed",
                                     message=f"{doc.source} is not accepted here (allowed: "
                                             f"{', '.join(sorted(allowed_sources))})"))
        elif doc.source == "shown" and component.form != "shown_only":
            errors.append(FieldError(field=f"{at}.source", code="source.not_allowed",
                                     message=f"{component.code} must be handed in "
                                             f"({component.form}), not only shown"))
        elif doc.source == "data_store" and not component.from_data_store:
            errors.append(FieldError(field=f"{at}.source", code="source.not_allowed",
                                     message=f"{component.code} cannot be taken from the "
                                             "citizen data store"))
        if doc.source == "upload" and not doc.attachment_ids:
            errors.append(FieldError(field=f"{at}.attachment_ids", code="field.required",
                                     message="an upload names at least one attachment"))
        if doc.source != "upload" and doc.attachment_ids:
            errors.append(FieldError(field=f"{at}.attachment_ids", code="field.not_allowed",
                                     message="attachments go with source 'upload'"))
        if doc.source == "data_store" and not doc.data_store_ref:
            errors.append(FieldError(field=f"{at}.data_store_ref", code="field.required",
                                     message="name the document in the data store"))
        if doc.source != "data_store" and doc.data_store_ref:
            errors.append(FieldError(field=f"{at}.data_store_ref", code="field.not_allowed",
                                     message="data_store_ref goes with source 'data_store'"))
    return errors


def missing_components(documents: Iterable[DocumentIn],
                       components: Iterable[ComponentDef]) -> list[ComponentDef]:
    """Required components not handed in, in catalog order."""
    given = {d.component_code for d in documents}
    return [c for c in components if c.required and c.code not in given]
