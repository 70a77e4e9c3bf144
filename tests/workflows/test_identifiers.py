"""NHS numbers (modulus 11) and the child's consistent identifier (Children Act 2004 s16LC)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from workflows.identifiers import (
    ChildIdentifier,
    ConsistentIdentifierAbsence,
    InvalidNhsNumber,
    NhsNumberStr,
    format_nhs_number,
    is_valid_nhs_number,
    nhs_check_digit,
    parse_nhs_number,
)

KNOWN_VALID = ["9434765919", "9434765870", "4010232137"]


class _Patient(BaseModel):
    nhs_number: NhsNumberStr


@pytest.mark.parametrize("number", KNOWN_VALID)
def test_known_valid_nhs_numbers_are_valid(number: str) -> None:
    assert is_valid_nhs_number(number)
    assert parse_nhs_number(number) == number


@pytest.mark.parametrize(
    "written", ["9434765919", "943 476 5919", "943-476-5919", "  943 476 5919\n"]
)
def test_every_accepted_form_normalises_to_ten_digits(written: str) -> None:
    assert parse_nhs_number(written) == "9434765919"


def test_check_digit_is_eleven_minus_the_weighted_sum_modulo_eleven() -> None:
    assert nhs_check_digit("943476591") == 9
    assert nhs_check_digit("401023213") == 7


def test_a_result_of_eleven_means_check_digit_zero() -> None:
    # 9*10 + 4*9 + 3*8 + 4*7 + 7*6 + 6*5 + 5*4 + 8*3 + 7*2 = 308 = 28 * 11
    assert nhs_check_digit("943476587") == 0


def test_a_result_of_ten_means_no_check_digit_exists() -> None:
    # 6 * 2 = 12, remainder 1, 11 - 1 = 10
    assert nhs_check_digit("000000006") is None
    with pytest.raises(InvalidNhsNumber, match="result of 10, which makes no valid NHS number"):
        parse_nhs_number("0000000060")


@pytest.mark.parametrize("first_nine", ["94347659", "9434765919", "94347659x", "٩٤٣٤٧٦٥٩١"])
def test_check_digit_needs_nine_ascii_digits(first_nine: str) -> None:
    with pytest.raises(ValueError, match="exactly nine digits"):
        nhs_check_digit(first_nine)


def test_a_wrong_check_digit_is_named_with_the_expected_one() -> None:
    assert not is_valid_nhs_number("9434765918")
    with pytest.raises(InvalidNhsNumber, match="check digit is 8, expected 9"):
        parse_nhs_number("9434765918")


@pytest.mark.parametrize(
    "written",
    [
        "",
        "943476591",  # nine digits
        "94347659190",  # eleven digits
        "943 476-5919",  # mixed separators
        "943  476 5919",  # doubled separator
        "94 3476 5919",  # wrong grouping
        "943.476.5919",
        "943476591X",
        "NHS 9434765919",
        "٩٤٣٤٧٦٥٩١٩",  # Arabic-Indic digits: the check only knows ASCII
    ],
)
def test_anything_else_is_not_an_nhs_number(written: str) -> None:
    assert not is_valid_nhs_number(written)
    with pytest.raises(InvalidNhsNumber, match="must be 10 digits"):
        parse_nhs_number(written)


def test_errors_never_repeat_the_number() -> None:
    with pytest.raises(InvalidNhsNumber) as wrong_digit:
        parse_nhs_number("4010232138")
    with pytest.raises(InvalidNhsNumber) as wrong_form:
        parse_nhs_number("401 023-2137")
    assert "401" not in str(wrong_digit.value)
    assert "401" not in str(wrong_form.value)


def test_the_spoken_form_groups_three_three_four() -> None:
    assert format_nhs_number("9434765919") == "943 476 5919"
    assert format_nhs_number("943-476-5919") == "943 476 5919"


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_exactly_the_computed_check_digit_completes_nine_digits(first_nine: str) -> None:
    expected = nhs_check_digit(first_nine)
    valid_last_digits = [d for d in "0123456789" if is_valid_nhs_number(first_nine + d)]
    assert valid_last_digits == ([] if expected is None else [str(expected)])


def test_the_field_type_normalises_and_round_trips_through_json() -> None:
    patient = _Patient(nhs_number="943-476-5919")
    assert patient.nhs_number == "9434765919"
    assert _Patient.model_validate_json(patient.model_dump_json()) == patient


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("9434765918", "check digit is 8, expected 9"),
        ("0000000060", "result of 10, which makes no valid NHS number"),
        ("94347659", "must be 10 digits"),
    ],
)
def test_the_field_type_reports_what_is_wrong(written: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _Patient(nhs_number=written)


def test_a_child_identifier_holds_an_nhs_number() -> None:
    identifier = ChildIdentifier(nhs_number="943 476 5919")
    assert identifier.nhs_number == "9434765919"
    assert identifier.absence_reason is None


@pytest.mark.parametrize("reason", list(ConsistentIdentifierAbsence))
def test_a_child_identifier_holds_a_statutory_absence_reason(
    reason: ConsistentIdentifierAbsence,
) -> None:
    identifier = ChildIdentifier.model_validate({"absence_reason": reason.value})
    assert identifier.absence_reason is reason
    assert identifier.nhs_number is None


def test_the_absence_reasons_are_the_two_in_section_16lc() -> None:
    assert {reason.value for reason in ConsistentIdentifierAbsence} == {
        "unknown_and_finding_would_delay",
        "more_detrimental_to_include",
    }


def test_a_child_identifier_needs_one_of_the_two() -> None:
    with pytest.raises(ValidationError, match=r"NHS number is required.*s16LC"):
        ChildIdentifier()


def test_a_child_identifier_refuses_both() -> None:
    with pytest.raises(ValidationError, match="not both"):
        ChildIdentifier(
            nhs_number="9434765919",
            absence_reason=ConsistentIdentifierAbsence.MORE_DETRIMENTAL_TO_INCLUDE,
        )


def test_a_child_identifier_refuses_an_invalid_nhs_number() -> None:
    with pytest.raises(ValidationError, match="check digit is 8, expected 9"):
        ChildIdentifier(nhs_number="9434765918")


def test_a_child_identifier_is_frozen_and_round_trips() -> None:
    identifier = ChildIdentifier(
        absence_reason=ConsistentIdentifierAbsence.UNKNOWN_AND_FINDING_WOULD_DELAY
    )
    with pytest.raises(ValidationError):
        identifier.absence_reason = None  # type: ignore[misc]
    assert ChildIdentifier.model_validate_json(identifier.model_dump_json()) == identifier
