"""Dossier codes (pure), including a property test of the format."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from motcua_intake.dossiers.codes import business_day, dossier_code, left_to_right


class TestCodes:
    def test_local_format_uses_the_business_day(self) -> None:
        # 17:30 UTC on 31/12 is already 1 January in Vietnam
        at = datetime(2024, 12, 31, 17, 30, tzinfo=UTC)
        assert dossier_code("000.00.17.H56", at, 1) == "000.00.17.H56-250101-0001"
        assert dossier_code("000.00.17.H56", at, 12345) == "000.00.17.H56-250101-12345"

    def test_centralised_format(self) -> None:
        at = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
        assert dossier_code("000.00.17.H56", at, 7, fmt="centralised", owner="02") == \
            "H56.17.00.000-260302-020007"
        assert left_to_right("G01.001.01") == "G01.001.01"

    def test_rejects_bad_input(self) -> None:
        at = datetime(2026, 3, 2, tzinfo=UTC)
        with pytest.raises(ValueError):
            dossier_code("000.00.17.H56", at, 0)
        with pytest.raises(ValueError):
            dossier_code("000.00.17.H56", at, 1, fmt="centralised", owner="1")

    @given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1),
                        timezones=st.just(UTC)),
           st.integers(min_value=1, max_value=10**6))
    def test_shape(self, at: datetime, sequence: int) -> None:
        code = dossier_code("000.01.17.H56", at, sequence)
        assert re.fullmatch(r"000\.01\.17\.H56-\d{6}-\d{4,}", code)
        assert code.split("-")[1] == business_day(at)
        assert int(code.rsplit("-", 1)[1]) == sequence
