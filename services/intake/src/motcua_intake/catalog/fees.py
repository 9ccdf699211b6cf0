"""Which fee lines apply to a dossier (pure).

Lines with the same ``code`` are alternatives over time: on a given day a dated line
whose period contains it beats the undated line. Lines for other channels, optional
lines (charged only on request, e.g. extra copies) and conditional lines (``condition_vi``,
e.g. re-issue after loss) are left to payments' assessment and not sent at reception.
"""

from __future__ import annotations

from datetime import date

from motcua.contracts.intake import FeeLine
from motcua_intake.catalog.schemas import FeeLineDef, ProcedureDefinition


def applicable_lines(definition: ProcedureDefinition, channel: str,
                     day: date) -> list[FeeLineDef]:
    """The fee lines that apply on ``channel`` on ``day``, one per code, in catalog order."""
    chosen: dict[str, FeeLineDef] = {}
    for line in definition.fee_lines:
        if line.optional or line.condition_vi or not line.applies(channel, day):
            continue
        current = chosen.get(line.code)
        dated = line.valid_from is not None or line.valid_to is not None
        if current is None or (dated and current.valid_from is None
                               and current.valid_to is None):
            chosen[line.code] = line
    return list(chosen.values())


def contract_lines(definition: ProcedureDefinition, channel: str, day: date) -> list[FeeLine]:
    """The applicable lines as the ``dossier.received`` contract carries them."""
    return [FeeLine(code=line.code, kind=line.kind, label_vi=line.label_vi,
                    amount_vnd=line.amount_vnd, collect=line.collect)
            for line in applicable_lines(definition, channel, day)]
