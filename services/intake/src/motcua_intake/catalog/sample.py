"""The sample province for local runs and tests: agencies plus the real procedure seed.

Procedures come from ``catalog/seed/procedures.json`` (real national codes and published
times; where each figure comes from is in ``docs/catalog-sources.md``). The agencies are
SAMPLE reception points shaped like Decision 20/2020 identifiers; they are not official
codes. Who handles what is a sample choice too: commune procedures are decided by the
two communes, province and ministry-assigned ones by the provincial centre; every
sample agency receives every commune and province procedure (phi địa giới), while
ministry-assigned ones are received only at the provincial centre.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from motcua.config import ServiceSettings
from motcua.db import create_engine, session_factory, utcnow
from motcua_intake.catalog import service
from motcua_intake.catalog.models import Agency
from motcua_intake.catalog.schemas import CatalogDocument

SEED_FILE = Path(__file__).parent / "seed" / "procedures.json"

SAMPLE_AGENCIES = (
    ("000.00.17.{p}", "Trung tâm Phục vụ hành chính công tỉnh (mẫu)",
     "Provincial public administration service centre (sample)", "province"),
    ("000.01.17.{p}", "UBND phường Hạc Thành (mẫu)", "Hac Thanh ward (sample)", "commune"),
    ("000.02.17.{p}", "UBND xã Quảng Phú (mẫu)", "Quang Phu commune (sample)", "commune"),
)


def sample_document(province: str) -> CatalogDocument:
    """The seed catalog with the sample agencies of ``province`` assigned."""
    doc = CatalogDocument.model_validate(json.loads(SEED_FILE.read_text(encoding="utf-8")))
    centre, *communes = (code.format(p=province) for code, *_ in SAMPLE_AGENCIES)
    everyone = [centre, *communes]
    for definition in doc.procedures:
        if definition.agencies or definition.reception_points:
            continue
        if definition.level == "commune":
            definition.agencies, definition.reception_points = list(communes), list(everyone)
        elif definition.level == "province":
            definition.agencies, definition.reception_points = [centre], list(everyone)
        else:
            definition.agencies, definition.reception_points = [centre], [centre]
    return doc


async def seed(settings: ServiceSettings) -> str:
    """Insert the sample agencies and the seed procedures that are missing (idempotent).

    The procedures it adds are published, and announced (``procedure.published``) through
    the outbox: the running intake's relay publishes them.
    """
    engine = create_engine(settings.resolved_database_url())
    try:
        async with session_factory(engine)() as session, session.begin():
            have = set((await session.scalars(select(Agency.code))).all())
            added = 0
            for code, name_vi, name_en, level in SAMPLE_AGENCIES:
                code = code.format(p=settings.province)
                if code not in have:
                    session.add(Agency(code=code, name_vi=name_vi, name_en=name_en,
                                       level=level, created_at=utcnow()))
                    added += 1
            await session.flush()
            result = await service.import_document(
                session, sample_document(settings.province), publish=True, only_missing=True,
                province=settings.province)
    finally:
        await engine.dispose()
    return f"{added} agencies and {len(result.created) + len(result.updated)} procedures added"
