"""The child's consistent identifier: the NHS number, or the statutory reason it is absent.

Children Act 2004 s16LC (inserted by the Children's Wellbeing and Schools Act 2026)
makes the NHS number the consistent identifier to include when processing information
about a child, unless it is unknown and finding it would cause unreasonable delay, or
including it would be more detrimental to the child.

An NHS number is ten digits; the tenth is a modulus-11 check digit over the first nine
with weights 10 down to 2. Written forms accepted: ``9434765919``, ``943 476 5919`` and
``943-476-5919``; every form normalises to the ten bare digits.

Pure and free of I/O: the share-request workflow imports this inside the Temporal sandbox.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

_CHECK_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)

# ASCII digits only ("\d" would also accept Arabic-Indic and other Unicode digits), in
# the 3-3-4 grouping with one separator used consistently, or none.
_WRITTEN_NHS_NUMBER = re.compile(r"([0-9]{3})([ -]?)([0-9]{3})\2([0-9]{4})")
_ACCEPTED_FORMS = "9434765919, 943 476 5919 or 943-476-5919"


class InvalidNhsNumber(ValueError):
    """Text that is not a valid NHS number; the message says what is wrong.

    A ``ValueError`` so that pydantic reports it as a validation error.
    The message never repeats the number: error text ends up in logs.
    """


def nhs_check_digit(first_nine: str) -> int | None:
    """The check digit that completes ``first_nine``, or ``None`` if no digit can.

    A result of 11 means check digit 0; a result of 10 means that no valid NHS number
    starts with these nine digits.

    >>> nhs_check_digit("943476591")
    9
    """
    if len(first_nine) != 9 or not first_nine.isascii() or not first_nine.isdigit():
        raise ValueError("nhs_check_digit needs exactly nine digits")
    total = sum(
        int(digit) * weight for digit, weight in zip(first_nine, _CHECK_WEIGHTS, strict=True)
    )
    result = 11 - total % 11
    if result == 10:
        return None
    return 0 if result == 11 else result


def parse_nhs_number(text: str) -> str:
    """The ten bare digits of a written NHS number, after checking its check digit.

    Raises:
        InvalidNhsNumber: the text is not written as an NHS number, or its check digit
            is wrong, or its first nine digits admit no check digit.
    """
    written = _WRITTEN_NHS_NUMBER.fullmatch(text.strip())
    if written is None:
        digit_count = sum(character.isdigit() for character in text)
        raise InvalidNhsNumber(
            f"an NHS number must be 10 digits, written {_ACCEPTED_FORMS} "
            f"(got {len(text.strip())} characters, {digit_count} of them digits)"
        )
    digits = written.group(1) + written.group(3) + written.group(4)
    expected = nhs_check_digit(digits[:9])
    if expected is None:
        raise InvalidNhsNumber(
            "the first nine digits give a modulus-11 result of 10, which makes no valid NHS number"
        )
    if int(digits[9]) != expected:
        raise InvalidNhsNumber(f"NHS number check digit is {digits[9]}, expected {expected}")
    return digits


def is_valid_nhs_number(text: str) -> bool:
    """Whether ``text`` is an NHS number in an accepted written form with a correct check digit."""
    try:
        parse_nhs_number(text)
    except InvalidNhsNumber:
        return False
    return True


def format_nhs_number(nhs_number: str) -> str:
    """The 3-3-4 spaced form people read and say, e.g. ``943 476 5919``."""
    normalised = parse_nhs_number(nhs_number)
    return f"{normalised[:3]} {normalised[3:6]} {normalised[6:]}"


NhsNumberStr = Annotated[
    str,
    AfterValidator(parse_nhs_number),
    Field(
        description=f"NHS number with a valid modulus-11 check digit; {_ACCEPTED_FORMS} "
        "are accepted and stored as the ten bare digits",
        examples=["9434765919"],
    ),
]
"""A pydantic field type: validates an NHS number and normalises it to ten digits."""


class ConsistentIdentifierAbsence(StrEnum):
    """Why a child's NHS number is not given: the two exceptions in Children Act 2004 s16LC."""

    # Unknown, and finding it would cause unreasonable delay.
    UNKNOWN_AND_FINDING_WOULD_DELAY = "unknown_and_finding_would_delay"
    # Including it would be more detrimental to the child than leaving it out.
    MORE_DETRIMENTAL_TO_INCLUDE = "more_detrimental_to_include"


class ChildIdentifier(BaseModel):
    """The child's consistent identifier, or the statutory reason it is absent: exactly one.

    >>> ChildIdentifier(nhs_number="943 476 5919").nhs_number
    '9434765919'
    >>> ChildIdentifier(absence_reason="more_detrimental_to_include").absence_reason
    <ConsistentIdentifierAbsence.MORE_DETRIMENTAL_TO_INCLUDE: 'more_detrimental_to_include'>
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    nhs_number: NhsNumberStr | None = None
    absence_reason: ConsistentIdentifierAbsence | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if self.nhs_number is not None and self.absence_reason is not None:
            raise ValueError(
                "give either the child's NHS number or the reason it is absent, not both"
            )
        if self.nhs_number is None and self.absence_reason is None:
            reasons = ", ".join(reason.value for reason in ConsistentIdentifierAbsence)
            raise ValueError(
                "the child's NHS number is required, or the statutory reason it is absent "
                f"(Children Act 2004 s16LC): one of {reasons}"
            )
        return self
