"""The people and addresses of a share request: what a name, postcode and UPN may be."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workflows.details import (
    Address,
    PersonDetails,
    PersonIdentifiers,
    PersonRole,
    postcode_district,
)


@pytest.mark.parametrize(
    ("postcode", "district"),
    [("SW19 2AB", "SW19"), ("sw184rl", "SW18"), ("EC1A 1BB", "EC1A"), ("M1 1AE", "M1")],
)
def test_the_area_is_the_postcode_district(postcode: str, district: str) -> None:
    assert postcode_district(postcode) == district


@pytest.mark.parametrize("postcode", ["SW18", "12345", "SW18 4CL", "not a postcode"])
def test_an_address_refuses_what_is_not_a_postcode(postcode: str) -> None:
    with pytest.raises(ValidationError, match="not a UK postcode"):
        Address(postcode=postcode)


def test_an_address_normalises_its_postcode() -> None:
    assert Address(postcode=" sw18  4rl ").postcode == "SW18 4RL"


@pytest.mark.parametrize("name", ["", "   ", "123", "Amara\x00", "Amara\U000f0001"])
def test_a_name_must_be_printable_letters(name: str) -> None:
    with pytest.raises(ValidationError):
        PersonDetails(role=PersonRole.CHILD, given_names=name, family_name="Okafor")


def test_a_unique_pupil_number_is_normalised_or_refused() -> None:
    assert PersonIdentifiers(unique_pupil_number=" a820123456789 ").unique_pupil_number == (
        "A820123456789"
    )
    with pytest.raises(ValidationError, match="unique pupil number"):
        PersonIdentifiers(unique_pupil_number="A82012345678")
