"""Operator commands of identity-bridge (run with the service's settings)::

    python -m motcua_identity rotate-keys
    python -m motcua_identity add-staff --name "Trần Quản Trị" --email admin@h56.gov.vn \\
        --agency 000.00.17.H56 --role agency_admin

``add-staff`` bootstraps the first agency admin; later ones are managed over the API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from motcua.auth import ROLES
from motcua.db import create_engine, session_factory
from motcua_identity.accounts import service as accounts
from motcua_identity.config import Settings
from motcua_identity.keys.service import KeyRing


async def _rotate(settings: Settings) -> dict[str, object]:
    engine = create_engine(settings.resolved_database_url())
    try:
        secret = settings.key_encryption_secret
        ring = KeyRing(secret.get_secret_value() if secret else None)
        async with session_factory(engine)() as session, session.begin():
            done = await ring.rotate(session)
        return {"kid": done.kid, "previous_kid": done.previous_kid}
    finally:
        await engine.dispose()


async def _add_staff(settings: Settings, args: argparse.Namespace) -> dict[str, object]:
    engine = create_engine(settings.resolved_database_url())
    try:
        async with session_factory(engine)() as session, session.begin():
            account = await accounts.create_staff(
                session, full_name=args.name, email=args.email, username=args.username,
                password=None, roles={args.agency: args.role}, by="cli")
            return {"id": account.id, "agencies": await accounts.memberships(session,
                                                                             account.id)}
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m motcua_identity")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("rotate-keys", help="make a new signing key current now")
    staff = sub.add_parser("add-staff", help="register an officer (e.g. the first admin)")
    staff.add_argument("--name", required=True)
    staff.add_argument("--email")
    staff.add_argument("--username")
    staff.add_argument("--agency", required=True)
    staff.add_argument("--role", action="append", choices=ROLES, required=True)
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "rotate-keys":
        result = asyncio.run(_rotate(settings))
    else:
        result = asyncio.run(_add_staff(settings, args))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
