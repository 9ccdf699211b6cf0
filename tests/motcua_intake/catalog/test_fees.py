"""Which fee lines a dossier carries at reception (pure)."""

from __future__ import annotations

from datetime import date

from motcua_intake.catalog.fees import applicable_lines, contract_lines
from motcua_intake.catalog.sample import sample_document

CATALOG = {d.national_code: d for d in sample_document("H56").procedures}


class TestFeeLines:
    def test_per_channel_amounts(self) -> None:
        residence = CATALOG["1.004222"]
        assert [line.amount_vnd for line in
                applicable_lines(residence, "direct", date(2026, 1, 5))] == [20000]
        assert [line.amount_vnd for line in
                applicable_lines(residence, "online", date(2026, 1, 5))] == [10000]

    def test_dated_line_beats_the_undated_one(self) -> None:
        card = CATALOG["1.014063"]
        assert [line.amount_vnd for line in
                applicable_lines(card, "direct", date(2026, 6, 1))] == [25000]
        assert [line.amount_vnd for line in
                applicable_lines(card, "direct", date(2027, 1, 1))] == [50000]

    def test_optional_and_conditional_lines_are_left_out(self) -> None:
        passport = CATALOG["1.001456"]
        lines = contract_lines(passport, "direct", date(2026, 1, 5))
        assert [line.amount_vnd for line in lines] == [200000]
        marriage = CATALOG["1.000894"]
        assert [(line.amount_vnd, line.collect) for line in
                contract_lines(marriage, "direct", date(2026, 1, 5))] == [(0, "waived")]
