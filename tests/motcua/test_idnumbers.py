"""Tests for motcua.idnumbers: personal IDs, legacy IDs, tax codes, masking, redaction."""

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from motcua.idnumbers import (
    CENTURY_GENDER,
    PROVINCES,
    IdKind,
    IdValidation,
    is_personal_id,
    mask,
    redact,
    tax_code_check_digit,
    validate,
)

TODAY = date(2026, 5, 1)


def weighted_check(first_nine: str) -> int | None:
    """Tax check digit written out independently of the module: 10 - (sum mod 11)."""
    weights = [31, 29, 23, 19, 17, 13, 7, 5, 3]
    total = 0
    for digit, weight in zip(first_nine, weights, strict=True):
        total += int(digit) * weight
    check = 10 - total % 11
    return None if check == 10 else check


def tax_code(first_nine: str) -> str:
    """A tax code with a correct check digit (the prefix must not leave remainder 0)."""
    check = weighted_check(first_nine)
    assert check is not None
    return f"{first_nine}{check}"


def check(number: str, **kwargs) -> IdValidation:
    return validate(number, today=TODAY, **kwargs)


class TestProvinceTable:
    def test_has_exactly_63_pre_2025_codes(self):
        assert len(PROVINCES) == 63
        assert all(re.fullmatch(r"0[0-9]{2}", code) for code in PROVINCES)
        assert len(set(PROVINCES.values())) == 63

    @pytest.mark.parametrize(
        ("code", "name"),
        [
            ("001", "Hà Nội"),
            ("024", "Bắc Giang"),
            ("049", "Quảng Nam"),
            ("079", "TP. Hồ Chí Minh"),
            ("096", "Cà Mau"),
        ],
    )
    def test_known_codes(self, code, name):
        assert PROVINCES[code] == name

    @pytest.mark.parametrize("code", ["000", "003", "023", "050", "097", "099"])
    def test_gaps_are_not_codes(self, code):
        assert code not in PROVINCES


class TestPersonalId:
    @pytest.mark.parametrize(
        ("number", "province", "century", "gender", "year"),
        [
            ("001087123456", "Hà Nội", 20, "male", 1987),
            ("079195000001", "TP. Hồ Chí Minh", 20, "female", 1995),
            ("049205999999", "Quảng Nam", 21, "male", 2005),
            ("096326000000", "Cà Mau", 21, "female", 2026),
            ("024000123456", "Bắc Giang", 20, "male", 1900),
            ("  038199123456\n", "Thanh Hóa", 20, "female", 1999),
        ],
    )
    def test_valid_numbers_decode(self, number, province, century, gender, year):
        result = check(number)
        assert result.valid, result.reasons
        assert result.kind is IdKind.PERSONAL_ID_12
        assert result.reasons == []
        assert result.normalized == number.strip()
        assert result.province_code == number.strip()[:3]
        assert (result.province_name, result.century, result.gender, result.birth_year) == (
            province,
            century,
            gender,
            year,
        )

    @pytest.mark.parametrize(
        ("number", "kwargs", "codes"),
        [
            # provinces outside the 63 (gaps, and codes only the 34-province era could suggest)
            ("003087123456", {}, ["province.unknown"]),
            ("050087123456", {}, ["province.unknown"]),
            ("099087123456", {}, ["province.unknown"]),
            ("000087123456", {}, ["province.unknown"]),
            # century digit for a century that has not begun
            ("001405123456", {}, ["century.future"]),
            ("001901123456", {}, ["century.future"]),
            # the right century but a year still to come
            ("001299123456", {}, ["birth_year.future"]),
            # consistency with what the citizen declared
            ("001087123456", {"birth_date": date(1988, 1, 1)}, ["birth_date.mismatch"]),
            ("001087123456", {"birth_date": date(2087, 3, 4)}, ["birth_date.mismatch"]),
            (
                "001287123456",
                {"birth_date": date(1987, 3, 4)},
                ["birth_year.future", "birth_date.mismatch"],
            ),
            ("001087123456", {"gender": "female"}, ["gender.mismatch"]),
            ("001187123456", {"gender": "male"}, ["gender.mismatch"]),
            # every failure is reported, not just the first
            (
                "003187123456",
                {"gender": "male", "birth_date": date(1990, 1, 1)},
                ["province.unknown", "birth_date.mismatch", "gender.mismatch"],
            ),
        ],
    )
    def test_refuses_with_reasons(self, number, kwargs, codes):
        result = check(number, **kwargs)
        assert not result.valid
        assert result.reason_codes == codes

    def test_consistent_birth_date_and_gender_pass(self):
        result = check("001187123456", birth_date=date(1987, 12, 31), gender="female")
        assert result.valid

    def test_decodes_even_when_refused(self):
        result = check("003405123456", gender="female")
        assert result.reason_codes == ["province.unknown", "century.future", "gender.mismatch"]
        assert (result.province_code, result.province_name) == ("003", None)
        assert (result.century, result.gender, result.birth_year) == (22, "male", 2105)

    def test_century_digit_becomes_valid_once_its_century_arrives(self):
        assert validate("001405123456", today=date(2105, 1, 1)).valid

    @pytest.mark.parametrize(
        ("number", "codes"),
        [
            ("00108712345", ["format.length"]),
            ("0010871234567", ["format.length"]),
            ("00108712345A", ["format.non_digit"]),
            ("001 087 123456", ["format.whitespace"]),
            ("001087\t123456", ["format.whitespace"]),
            ("001-087-123456", ["format.hyphen"]),
            ("００１０８７１２３４５６", ["format.non_digit"]),  # full-width digits
            ("001O87123456", ["format.non_digit"]),  # letter O for zero
            ("001 08712345X", ["format.whitespace", "format.non_digit"]),
        ],
    )
    def test_refuses_malformed_numbers(self, number, codes):
        result = check(number, kind="personal_id_12")
        assert not result.valid
        assert result.reason_codes == codes
        assert result.normalized is None
        assert result.province_code is None and result.birth_year is None

    def test_messages_are_bilingual(self):
        (reason,) = check("00108712345A").reasons
        assert reason.code == "format.non_digit"
        assert "'A'" in reason.message_vi and "'A'" in reason.message_en
        assert "chữ số" in reason.message_vi and "digits" in reason.message_en

    def test_every_reason_code_has_distinct_messages(self):
        result = check("003405123456", gender="female", birth_date=date(2000, 1, 1))
        for reason in result.reasons:
            assert reason.message_vi and reason.message_en
            assert reason.message_vi != reason.message_en

    def test_is_personal_id(self):
        assert is_personal_id("001087123456")
        assert not is_personal_id("003087123456")
        assert not is_personal_id("123456789")
        assert not is_personal_id("0100109106")

    def test_rejects_unknown_gender_argument(self):
        with pytest.raises(ValueError, match="gender"):
            validate("001087123456", gender="M")  # type: ignore[arg-type]

    def test_today_defaults_to_current_date(self):
        assert validate("001087123456").valid

    @given(
        province=st.sampled_from(sorted(PROVINCES)),
        birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2399, 12, 31)),
        gender=st.sampled_from(["male", "female"]),
        random_part=st.from_regex(r"[0-9]{6}", fullmatch=True),
        days_later=st.integers(min_value=0, max_value=40_000),
    )
    def test_well_formed_numbers_round_trip(self, province, birth, gender, random_part, days_later):
        century = birth.year // 100 + 1
        digit = (century - 20) * 2 + (gender == "female")
        number = f"{province}{digit}{birth.year % 100:02d}{random_part}"
        today = date.fromordinal(min(birth.toordinal() + days_later, date.max.toordinal()))

        result = validate(number, birth_date=birth, gender=gender, today=today)

        assert result.valid, result.reasons
        assert CENTURY_GENDER[str(digit)] == (century, gender)
        assert (result.province_code, result.province_name) == (province, PROVINCES[province])
        assert (result.century, result.gender, result.birth_year) == (century, gender, birth.year)
        assert result.normalized == number


class TestLegacyId:
    @pytest.mark.parametrize("number", ["012345678", "271234567", " 381234567 "])
    def test_nine_digits_are_valid_and_decode_nothing(self, number):
        result = check(number)
        assert result.valid
        assert result.kind is IdKind.LEGACY_ID_9
        assert result.normalized == number.strip()
        assert result.province_code is None and result.birth_year is None
        assert result.gender is None and result.century is None

    def test_birth_date_and_gender_are_not_checked(self):
        assert check("012345678", birth_date=date(1970, 1, 1), gender="female").valid

    @pytest.mark.parametrize(
        ("number", "codes"),
        [
            ("01234567", ["format.length"]),
            ("0123456789", ["format.length"]),
            ("01234567X", ["format.non_digit"]),
            ("012 345 678", ["format.whitespace"]),
            ("012-345-678", ["format.hyphen"]),
        ],
    )
    def test_refuses_malformed(self, number, codes):
        result = check(number, kind=IdKind.LEGACY_ID_9)
        assert not result.valid
        assert result.reason_codes == codes


class TestTaxCode:
    def test_independent_check_matches_module(self):
        for prefix in ["010004751", "010010910", "030058856", "100000008", "010000001"]:
            assert tax_code_check_digit(prefix) == weighted_check(prefix)

    @pytest.mark.parametrize(
        ("number", "normalized", "branch"),
        [
            # published enterprise codes (Viettel, Vinamilk, FPT)
            ("0100109106", "0100109106", None),
            ("0300588569", "0300588569", None),
            ("0101248141", "0101248141", None),
            # constructed: check digit 0 comes from remainder 10
            (tax_code("010000001"), "0100000010", None),
            (tax_code("791234567"), tax_code("791234567"), None),
            # dependent units, with and without the hyphen
            ("0100109106-001", "0100109106-001", "001"),
            ("0100109106001", "0100109106-001", "001"),
            ("0300588569-999", "0300588569-999", "999"),
            (" 0101248141-012 ", "0101248141-012", "012"),
        ],
    )
    def test_valid_codes(self, number, normalized, branch):
        result = check(number)
        assert result.valid, result.reasons
        assert result.kind is IdKind.TAX_CODE
        assert result.normalized == normalized
        assert result.branch == branch
        assert result.province_code is None and result.birth_year is None

    @pytest.mark.parametrize(
        ("number", "codes"),
        [
            ("0100109107", ["tax_code.check_digit"]),
            ("0300588560", ["tax_code.check_digit"]),
            ("0100109106-000", ["tax_code.branch"]),
            ("0100109107-001", ["tax_code.check_digit"]),
            # 10 - 0 = 10 is not a digit: no such code is ever issued, whatever N10 says
            ("1000000080", ["tax_code.no_check_digit"]),
            ("1000000089", ["tax_code.no_check_digit"]),
            ("0100000000", ["tax_code.serial", "tax_code.check_digit"]),
            ("010010910", ["format.length"]),  # with kind forced, 9 digits is too short
            ("01001091066", ["format.length"]),
            ("0100109106-01", ["format.length"]),
            ("0100109106-0011", ["format.length"]),
            ("01001-09106", ["format.hyphen"]),
            ("-0100109106", ["format.hyphen"]),
            ("0100109106--001", ["format.hyphen"]),
            ("0100109106 001", ["format.whitespace"]),
            ("01001091O6", ["format.non_digit"]),
            ("0100.109.106", ["format.non_digit", "format.length"]),
        ],
    )
    def test_refuses_with_reasons(self, number, codes):
        result = check(number, kind="tax_code")
        assert not result.valid
        assert result.reason_codes == codes

    def test_check_digit_message_names_the_expected_digit(self):
        (reason,) = check("0100109107").reasons
        assert "6" in reason.message_en and "7" in reason.message_en

    @pytest.mark.parametrize("bad", ["12345678", "1234567890", "12345678a", "１２３４５６７８９"])
    def test_check_digit_helper_rejects_bad_input(self, bad):
        with pytest.raises(ValueError):
            tax_code_check_digit(bad)

    @given(st.from_regex(r"[0-9]{9}", fullmatch=True))
    def test_exactly_one_tenth_digit_is_valid_unless_none_is(self, prefix):
        valid = [d for d in range(10) if check(f"{prefix}{d}", kind="tax_code").valid]
        expected = weighted_check(prefix)
        if expected is None or prefix[2:] == "0000000":
            assert valid == []
        else:
            assert valid == [expected]


class TestKindInference:
    @pytest.mark.parametrize(
        ("number", "kind"),
        [
            ("001087123456", IdKind.PERSONAL_ID_12),
            ("001 087 123456", IdKind.PERSONAL_ID_12),
            ("001-087-123456", IdKind.TAX_CODE),
            ("012345678", IdKind.LEGACY_ID_9),
            ("0100109106", IdKind.TAX_CODE),
            ("0100109106001", IdKind.TAX_CODE),
            ("0100109106-001", IdKind.TAX_CODE),
            ("0100109106-01", IdKind.TAX_CODE),
        ],
    )
    def test_infers_kind(self, number, kind):
        assert check(number).kind is kind

    @pytest.mark.parametrize("number", ["12345", "01234567890", "12345678901234", "abc"])
    def test_unknown_length_has_no_kind(self, number):
        result = check(number)
        assert not result.valid
        assert result.kind is None
        assert result.reason_codes[-1] == "format.length"

    @pytest.mark.parametrize("number", ["", "   ", "\n"])
    def test_empty(self, number):
        assert check(number).reason_codes == ["format.empty"]

    def test_explicit_kind_wins(self):
        result = check("0100109106", kind="personal_id_12")
        assert result.kind is IdKind.PERSONAL_ID_12
        assert result.reason_codes == ["format.length"]

    def test_unknown_kind_argument_raises(self):
        with pytest.raises(ValueError):
            validate("001087123456", kind="passport")

    def test_result_is_immutable_and_serialisable(self):
        result = check("001087123456")
        with pytest.raises(ValueError):
            result.valid = False  # type: ignore[misc]
        assert result.model_dump(mode="json")["kind"] == "personal_id_12"


class TestMask:
    @pytest.mark.parametrize(
        ("number", "masked"),
        [
            ("001087123456", "********3456"),
            ("012345678", "*****5678"),
            ("0100109106", "******9106"),
            ("0100109106-001", "*********6-001"),
            ("1234", "1234"),
            ("", ""),
        ],
    )
    def test_keeps_last_four_digits(self, number, masked):
        assert mask(number) == masked


class TestRedact:
    @pytest.mark.parametrize(
        ("text", "redacted"),
        [
            ("cccd=001087123456 ok", "cccd=********3456 ok"),
            ("cmnd 012345678.", "cmnd *****5678."),
            ("mst:0100109106", "mst:******9106"),
            ("mst 0100109106-001 branch", "mst *********6-001 branch"),
            ("mst 0100109106001", "mst *********6001"),
            ("id001087123456x", "id********3456x"),
            # not identification-number lengths: left alone
            ("order 12345678 and phone 84912345678", "order 12345678 and phone 84912345678"),
            # a longer run may hide an ID glued to other digits
            ("ref 20250101001087123456", "ref ****************3456"),
            ("a 001087123456, b 012345678", "a ********3456, b *****5678"),
        ],
    )
    def test_masks_id_like_runs(self, text, redacted):
        assert redact(text) == redacted

    @given(st.text(alphabet="0123456789 -x\n", max_size=80))
    def test_never_leaves_a_twelve_digit_run(self, text):
        out = redact(text)
        assert not re.search(r"[0-9]{12}", out)
        assert len(out) == len(text)
        assert redact(out) == out

    @given(
        st.lists(
            st.from_regex(r"[0-9]{9}|[0-9]{10}|[0-9]{12}|[0-9]{13}", fullmatch=True),
            min_size=1,
            max_size=5,
        )
    )
    def test_masks_each_id_length(self, numbers):
        out = redact(" ".join(numbers))
        assert out.split(" ") == [mask(n) for n in numbers]
