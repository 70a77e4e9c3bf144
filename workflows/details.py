"""The people and addresses of a share request: who it is about and who it names.

A ``ShareRequestDetails`` is what the hub knows of the child and the other people a request
mentions (parents, carers, siblings, an alleged perpetrator, the referrer): names and
aliases, dates of birth, addresses and identifiers, plus the account of the concern. The
values are normalised as they are validated, so that everything downstream compares like
with like: postcodes in upper case with one space (``SW18 4RL``), unique pupil numbers in
upper case, NHS numbers checked (``workflows.identifiers``), names printable and with at
least one letter.

What an advisor may see of these details, and how, is ``workflows.redaction``'s business.

Pure and free of I/O: it runs inside the Temporal sandbox.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from workflows.identifiers import NhsNumberStr


class PersonRole(StrEnum):
    CHILD = "child"
    PARENT = "parent"
    CARER = "carer"
    SIBLING = "sibling"
    ALLEGED_PERPETRATOR = "alleged_perpetrator"
    REFERRER = "referrer"
    OTHER = "other"


def _printable_name(text: str) -> str:
    # Control and private-use characters have no place in a name, and private-use ones
    # would collide with the placeholders the narrative scrubber of workflows.redaction
    # parks its work behind.
    if any(unicodedata.category(character) in {"Cc", "Co", "Cs", "Cn"} for character in text):
        raise ValueError("a name may not contain control, private-use or unassigned characters")
    if not any(character.isalpha() for character in text):
        raise ValueError("a name must contain at least one letter")
    return text


PersonName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable_name)]

# Outward code (area and district), then inward code; the inward letters never include
# C, I, K, M, O or V. Public because the redaction finds postcodes in free text by them.
OUTWARD_CODE = "[A-Z]{1,2}[0-9][A-Z0-9]?"
INWARD_CODE = "[0-9][ABD-HJLNP-UW-Z]{2}"
_POSTCODE = re.compile(f"({OUTWARD_CODE})({INWARD_CODE})")


def _normalise_postcode(text: str) -> str:
    compact = "".join(text.split()).upper()
    postcode = _POSTCODE.fullmatch(compact)
    if postcode is None:
        raise ValueError("not a UK postcode (expected e.g. SW18 4RL)")
    return f"{postcode.group(1)} {postcode.group(2)}"


UkPostcode = Annotated[str, AfterValidator(_normalise_postcode)]
"""A UK postcode, normalised to upper case with one space: ``SW18 4RL``."""


def postcode_district(postcode: str) -> str:
    """The outward code of a UK postcode: ``"SW18 4RL"`` → ``"SW18"``."""
    return _normalise_postcode(postcode).split(" ")[0]


_UPN = re.compile(r"[A-Z][0-9]{11}[0-9A-Z]")


def _normalise_upn(text: str) -> str:
    upn = text.strip().upper()
    if _UPN.fullmatch(upn) is None:
        raise ValueError("a unique pupil number is a check letter, 11 digits and a digit or letter")
    return upn


UniquePupilNumber = Annotated[str, AfterValidator(_normalise_upn)]


class Address(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    lines: tuple[Annotated[str, Field(min_length=1, max_length=200)], ...] = Field(
        default=(), description="house and street lines; never shown to an advisor"
    )
    town: str | None = Field(default=None, max_length=100)
    postcode: UkPostcode | None = None


class PersonIdentifiers(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    nhs_number: NhsNumberStr | None = None
    police_reference: str | None = Field(default=None, min_length=1, max_length=64)
    unique_pupil_number: UniquePupilNumber | None = Field(
        default=None, description="UPN, the school census identifier"
    )


class PersonDetails(BaseModel):
    """Someone a share request is about or mentions, as the hub knows them."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    role: PersonRole
    given_names: PersonName
    family_name: PersonName
    known_as: tuple[PersonName, ...] = Field(
        default=(), description="aliases, nicknames, previous names: scrubbed like the name"
    )
    date_of_birth: date | None = None
    address: Address | None = None
    identifiers: PersonIdentifiers = PersonIdentifiers()


class ShareRequestDetails(BaseModel):
    """The people and the account of the concern that an advice packet is made from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    people: tuple[PersonDetails, ...] = Field(min_length=1)
    concern_summary: str = Field(min_length=1, max_length=20_000)
