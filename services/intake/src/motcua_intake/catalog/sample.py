"""The sample province for local runs: a few agencies and real procedures.

Procedures come from ``shared/data/tthc_catalog.csv`` (real national codes and published
times; see ``docs/catalog-sources.md``). The agencies are SAMPLE reception points of
Thanh Hóa (H56) shaped like Decision 20/2020 identifiers; they are not official codes.
"""

from __future__ import annotations

from motcua.config import ServiceSettings
from motcua.db import create_engine, session_factory, utcnow
from sqlalchemy import select

from motcua_intake.catalog.models import Agency, Procedure

SAMPLE_AGENCIES = (
    ("000.00.17.{p}", "Trung tâm Phục vụ hành chính công tỉnh (mẫu)", "province"),
    ("000.01.17.{p}", "UBND phường Hạc Thành (mẫu)", "commune"),
    ("000.02.17.{p}", "UBND xã Quảng Phú (mẫu)", "commune"),
)

#: (national code, name, level, amount, unit) exactly as in the seed CSV.
SAMPLE_PROCEDURES = (
    ("1.001193", "Thủ tục đăng ký khai sinh", "commune", 1, "working_days"),
    ("2.000986", "Liên thông thủ tục hành chính về đăng ký khai sinh, đăng ký thường trú, "
                 "cấp thẻ bảo hiểm y tế cho trẻ em dưới 6 tuổi", "commune", 20, "working_days"),
)


async def seed(settings: ServiceSettings) -> str:
    """Insert the sample agencies and procedures that are missing (idempotent)."""
    engine = create_engine(settings.resolved_database_url())
    added = 0
    try:
        async with session_factory(engine)() as session, session.begin():
            have_agencies = set((await session.scalars(select(Agency.code))).all())
            have_procs = set((await session.scalars(select(Procedure.national_code))).all())
            for code, name, level in SAMPLE_AGENCIES:
                code = code.format(p=settings.province)
                if code not in have_agencies:
                    session.add(Agency(code=code, name_vi=name, level=level,
                                       created_at=utcnow()))
                    added += 1
            for code, name, level, amount, unit in SAMPLE_PROCEDURES:
                if code not in have_procs:
                    session.add(Procedure(national_code=code, name_vi=name, level=level,
                                          statutory_amount=amount, statutory_unit=unit,
                                          created_at=utcnow()))
                    added += 1
    finally:
        await engine.dispose()
    return f"{added} row(s) added"
