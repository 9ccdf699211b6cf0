"""``motcua-payments``: operator commands of the payments service.

    motcua-payments ledger-check [--dossier CODE]   exit 1 if any dossier breaks the ledger
    motcua-payments reconcile DATE [--rerun]        reconcile a day's statement (YYYY-MM-DD)
    motcua-payments simulator                       serve the gateway simulator (port 8110)

They use the service's settings (``MOTCUA_PAYMENTS_*``): its database and gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import date

from motcua.db import create_engine, session_factory
from motcua_payments.config import Settings
from motcua_payments.context import PaymentsContext
from motcua_payments.errors import ReconciliationInProgress
from motcua_payments.gateway.adapter import GatewayError
from motcua_payments.gateway.national import NationalPlatformGateway
from motcua_payments.ledger import service as ledger
from motcua_payments.reconciliation import service as reconciliation


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="motcua-payments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("ledger-check", help="check settled = assessed − refunds")
    check.add_argument("--dossier")
    rec = sub.add_parser("reconcile", help="reconcile a day's gateway statement")
    rec.add_argument("day", type=date.fromisoformat)
    rec.add_argument("--rerun", action="store_true")
    sub.add_parser("simulator", help="serve the payment platform simulator")
    args = parser.parse_args(argv)
    if args.command == "simulator":
        from motcua_payments.simulator.__main__ import main as serve

        serve()
        return 0
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    settings = Settings()
    engine = create_engine(settings.resolved_database_url())
    sessions = session_factory(engine)
    try:
        if args.command == "ledger-check":
            async with sessions() as session:
                report = await ledger.check(session, args.dossier)
            print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str))
            return 0 if report.ok else 1
        gateway = NationalPlatformGateway(settings.gateway_url, settings.gateway_partner_code,
                                          settings.gateway_secret)
        try:
            run = await reconciliation.run_statement(
                sessions, PaymentsContext(settings, gateway), args.day, rerun=args.rerun)
        except (GatewayError, ReconciliationInProgress) as exc:
            print(f"not reconciled: {exc}", file=sys.stderr)
            return 2
        finally:
            await gateway.aclose()
        print(json.dumps({"date": run.statement_date, "status": run.status,
                          "matched": run.matched, "missing_ours": run.missing_ours,
                          "missing_theirs": run.missing_theirs, "mismatched": run.mismatched}))
        return 0
    finally:
        await engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
