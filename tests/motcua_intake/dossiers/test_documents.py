"""Required components and document sources (pure)."""

from __future__ import annotations

from motcua_intake.catalog.sample import sample_document
from motcua_intake.dossiers.documents import (
    SOURCES_BY_CHANNEL,
    components_of,
    document_errors,
    missing_components,
)
from motcua_intake.dossiers.schemas import DocumentIn

CATALOG = {d.national_code: d for d in sample_document("H56").procedures}
BIRTH = CATALOG["1.001193"]


def doc(code: str, source: str = "paper", **kw) -> DocumentIn:  # type: ignore[no-untyped-def]
    return DocumentIn(component_code=code, source=source, **kw)


class TestComponents:
    def test_missing_in_catalog_order(self) -> None:
        missing = missing_components([doc("giay_chung_sinh")], BIRTH.components)
        assert [c.code for c in missing] == ["to_khai_khai_sinh", "giay_to_tuy_than"]

    def test_optional_components_are_never_missing(self) -> None:
        assert "giay_chung_nhan_ket_hon_cha_me" not in {
            c.code for c in missing_components([], BIRTH.components)}

    def test_a_bundle_without_components_takes_its_members(self) -> None:
        old_bundle = CATALOG["2.001023"]
        assert not old_bundle.components
        merged = components_of(old_bundle, CATALOG)
        codes = {c.code for c in merged}
        assert {"to_khai_khai_sinh", "giay_chung_sinh"} <= codes
        assert len(codes) == len(merged)


class TestSources:
    def test_sources_by_channel(self) -> None:
        documents = [doc("to_khai_khai_sinh", "paper"),
                     doc("giay_to_tuy_than", "shown")]
        assert document_errors(documents, BIRTH.components, SOURCES_BY_CHANNEL["direct"]) == []
        codes = {e.code for e in document_errors(documents, BIRTH.components,
                                                 SOURCES_BY_CHANNEL["online"])}
        assert codes == {"source.not_allowed"}

    def test_shown_only_for_shown_only_components(self) -> None:
        errors = document_errors([doc("to_khai_khai_sinh", "shown")], BIRTH.components,
                                 SOURCES_BY_CHANNEL["direct"])
        assert [(e.field, e.code) for e in errors] == [("documents.0.source",
                                                         "source.not_allowed")]

    def test_shape_of_each_source(self) -> None:
        errors = document_errors([
            doc("to_khai_khai_sinh", "upload"),
            doc("giay_chung_sinh", "paper", attachment_ids=["x"]),
            doc("giay_to_tuy_than", "data_store"),
            doc("giay_to_tuy_than", "paper"),
        ], BIRTH.components, SOURCES_BY_CHANNEL["direct"])
        assert [(e.field, e.code) for e in errors] == [
            ("documents.0.attachment_ids", "field.required"),
            ("documents.1.attachment_ids", "field.not_allowed"),
            ("documents.2.data_store_ref", "field.required"),
            ("documents.3.component_code", "component.duplicate"),
        ]
