"""The MaXacThuc checksum (domain.md §7), property-tested."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from motcua_payments.gateway import wire

text = st.text(st.characters(blacklist_characters="|", blacklist_categories=("Cs",)),
               min_size=1, max_size=40)
times = st.datetimes().map(lambda d: d.strftime(wire.TIME_FORMAT)).filter(
    lambda s: len(s) == 14)
amounts = st.integers(min_value=1, max_value=10**13)
secrets_ = st.text(min_size=1, max_size=40)


def init(partner: str, reference: str, amount: int, info: str, at: str,
         ip: str) -> wire.InitRequest:
    return wire.InitRequest(MaDoiTac=partner, MaThamChieu=reference, SoTien=amount,
                            ThongTinGiaoDich=info, ThoiGianGD=at, Ip=ip)


class TestChecksum:
    @given(text, text, amounts, text, times, text, secrets_)
    def test_init_checksum_is_the_documented_formula(self, partner: str, reference: str,
                                                     amount: int, info: str, at: str, ip: str,
                                                     secret: str) -> None:
        raw = (f"INIT|1.0.6|{partner}|{reference}|{amount}|PAY|1|1|vi-VN|VND|PAYMENT|{info}|"
               f"{at}|{ip}|{secret}")
        expected = hashlib.sha256(raw.encode()).hexdigest()
        signed = init(partner, reference, amount, info, at, ip).signed(secret)
        assert signed.MaXacThuc == expected
        assert len(expected) == 64 and expected == expected.lower()
        assert signed.verifies(secret)

    @given(text, text, times, secrets_)
    def test_query_checksum_is_the_documented_formula(self, partner: str, reference: str,
                                                      at: str, secret: str) -> None:
        raw = f"QUERY|1.0.6|{partner}|{reference}|{at}|{secret}"
        signed = wire.QueryRequest(MaDoiTac=partner, MaThamChieu=reference,
                                   ThoiGianGD=at).signed(secret)
        assert signed.MaXacThuc == hashlib.sha256(raw.encode()).hexdigest()

    @given(text, text, amounts, text, times, text, secrets_,
           st.sampled_from(["MaDoiTac", "MaThamChieu", "SoTien", "ThongTinGiaoDich",
                            "ThoiGianGD", "Ip"]), st.data())
    def test_any_change_to_a_signed_field_breaks_it(self, partner: str, reference: str,
                                                    amount: int, info: str, at: str, ip: str,
                                                    secret: str, field: str,
                                                    data: st.DataObject) -> None:
        signed = init(partner, reference, amount, info, at, ip).signed(secret)
        current = getattr(signed, field)
        strategy = {"SoTien": amounts, "ThoiGianGD": times}.get(field, text)
        other = data.draw(strategy.filter(lambda v: v != current))
        tampered = signed.model_copy(update={field: other})
        assert not tampered.verifies(secret)

    @given(text, text, st.integers(min_value=0, max_value=10**13), times, secrets_, secrets_)
    def test_another_secret_does_not_verify(self, reference: str, txn: str, amount: int,
                                            at: str, secret: str, other: str) -> None:
        notice = wire.Notification(MaDoiTac="P", MaThamChieu=reference, MaGiaoDich=txn,
                                   SoTien=amount, MaLoi="00", ThoiGianGD=at).signed(secret)
        assert notice.verifies(secret)
        assert notice.verifies(other) == (other == secret)
        assert wire.parse(wire.Notification, notice.wire()).verifies(secret)

    @given(text, text)
    def test_the_separator_is_refused_in_values(self, left: str, right: str) -> None:
        with pytest.raises(ValidationError):
            init("P", "R", 1, f"{left}|{right}", "20261122101010", "127.0.0.1")

    def test_times_are_business_time(self) -> None:
        from datetime import UTC, datetime

        assert wire.format_time(datetime(2026, 11, 22, 17, 30, 5, tzinfo=UTC)) == \
            "20261123003005"
        assert wire.parse_time("20261123003005") == datetime(2026, 11, 22, 17, 30, 5,
                                                             tzinfo=UTC)
