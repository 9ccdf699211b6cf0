"""Sample staff for local runs: `motcua up` seeds them, `motcua simulate` signs in as them.

One officer per role in each sample agency of intake's sample province
(``000.0{0,1,2}.17.<province>``), with a username and the **development** password
:data:`DEV_PASSWORD` for ``POST /v1/auth/dev-login`` (enabled by `motcua up` outside
production), and an email for a staff OpenID sign-in. Usernames are
``<role>.<unit>``: ``receptionist.01`` is the receptionist of ``000.01.17.<province>``
(roles ``receptionist``, ``processor``, ``approver``, ``admin`` = agency_admin,
``auditor``). Nothing is seeded in production.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from motcua.config import ServiceSettings
from motcua.db import create_engine, session_factory
from motcua_identity.accounts import service as accounts
from motcua_identity.accounts.models import Account

#: The development password of every sample officer (never valid in production:
#: dev-login is refused there and the seed adds nobody).
DEV_PASSWORD = "motcua-dev"

#: Sample agencies, as intake's sample catalog names them (``{p}`` = province).
SAMPLE_AGENCIES = ("000.00.17.{p}", "000.01.17.{p}", "000.02.17.{p}")

#: Username prefix → role held in the agency.
SAMPLE_ROLES = {
    "receptionist": "receptionist",
    "processor": "processor",
    "approver": "approver",
    "admin": "agency_admin",
    "auditor": "auditor",
}

_NAMES = {
    "receptionist": ("Nguyễn Thị Tiếp", "Lê Văn Nhận", "Phạm Thị Một Cửa"),
    "processor": ("Trần Văn Thụ", "Hoàng Thị Lý", "Đỗ Văn Thẩm"),
    "approver": ("Vũ Văn Duyệt", "Bùi Thị Ký", "Đặng Văn Phê"),
    "admin": ("Ngô Văn Quản", "Dương Thị Trị", "Lý Văn Hệ"),
    "auditor": ("Hồ Thị Kiểm", "Mai Văn Tra", "Trương Thị Soát"),
}


@dataclass(frozen=True)
class SampleOfficer:
    """One sample staff account."""

    username: str
    full_name: str
    email: str
    agency_code: str
    role: str


def sample_staff(province: str) -> list[SampleOfficer]:
    """The sample officers of ``province`` (five per sample agency)."""
    staff = []
    for i, pattern in enumerate(SAMPLE_AGENCIES):
        agency = pattern.format(p=province)
        unit = agency.split(".")[1]
        for prefix, role in SAMPLE_ROLES.items():
            username = f"{prefix}.{unit}"
            staff.append(SampleOfficer(
                username=username, full_name=_NAMES[prefix][i] + " (mẫu)",
                email=f"{username}@{province.lower()}.motcua.test", agency_code=agency,
                role=role))
    return staff


async def seed(settings: ServiceSettings) -> str:
    """Add the sample officers that are missing (idempotent; nothing in production)."""
    if settings.environment == "production":
        return "no sample staff in production"
    engine = create_engine(settings.resolved_database_url())
    added = 0
    try:
        async with session_factory(engine)() as session, session.begin():
            have = set((await session.scalars(
                select(Account.username).where(Account.kind == "officer",
                                               Account.username.is_not(None)))).all())
            for officer in sample_staff(settings.province):
                if officer.username in have:
                    continue
                await accounts.create_staff(
                    session, full_name=officer.full_name, email=officer.email,
                    username=officer.username, password=DEV_PASSWORD,
                    roles={officer.agency_code: [officer.role]}, by="seed")
                added += 1
    finally:
        await engine.dispose()
    return (f"{added} sample officers added (usernames <role>.<unit>, e.g. receptionist.01; "
            f"development password {DEV_PASSWORD!r})")
