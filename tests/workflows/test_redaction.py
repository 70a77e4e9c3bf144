"""Pseudonymised advice packets: nothing identifying leaves, tokens stay stable."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.details import (
    Address,
    PersonDetails,
    PersonIdentifiers,
    PersonRole,
    ShareRequestDetails,
)
from workflows.identifiers import nhs_check_digit
from workflows.redaction import (
    AdvicePacket,
    AgeBand,
    PseudonymisedPerson,
    RedactionReport,
    UnknownPersonToken,
    age_band,
    pseudonymise,
    redact_text,
    reveal_identity,
)

SALT = b"test salt of share request 0001"
OTHER_SALT = b"test salt of share request 0002"
ADVICE_DAY = date(2026, 5, 20)

AMARA = PersonDetails(
    role=PersonRole.CHILD,
    given_names="Amara",
    family_name="Okafor",
    date_of_birth=date(2016, 3, 2),
    address=Address(lines=("14 Ravensbury Terrace",), town="London", postcode="sw18 4rl"),
    identifiers=PersonIdentifiers(nhs_number="943 476 5919", unique_pupil_number="A820123456789"),
)
GRACE = PersonDetails(
    role=PersonRole.PARENT,
    given_names="Grace",
    family_name="Okafor",
    date_of_birth=date(1989, 11, 20),
    address=Address(lines=("14 Ravensbury Terrace",), town="London", postcode="SW18 4RL"),
)
DEAN = PersonDetails(
    role=PersonRole.ALLEGED_PERPETRATOR,
    given_names="Dean",
    family_name="Holt",
    identifiers=PersonIdentifiers(police_reference="CAD 4521/12MAY26"),
)
NARRATIVE = (
    "Amara Okafor (DOB 02/03/2016, NHS number 943 476 5919) lives with her mother, "
    "Grace Okafor, at 14 Ravensbury Terrace, London SW18 4RL. On 12 May 2026 Amara told "
    "her class teacher, Mrs Patel, that her mother's partner Dean Holt had hit her with a "
    "belt. Amara's arm was bruised. Police attended (CAD 4521/12MAY26). Ms Okafor says "
    "Dean no longer stays at the house; she can be reached on 07700 900123 or "
    "grace.okafor@example.com."
)
# Tokens pinned for SALT: a change of the token scheme would break the tokens of every
# advice request already answered.
AMARA_TOKEN = "Child ZMN4S"
GRACE_TOKEN = "Parent TZ0PA"
DEAN_TOKEN = "Alleged perpetrator B96MR"
REDACTED_NARRATIVE = (
    f"{AMARA_TOKEN} (DOB [date of birth removed], NHS number [NHS number removed]) lives "
    f"with her mother, {GRACE_TOKEN}, at [address removed], London [area SW18]. On 12 May "
    f"2026 {AMARA_TOKEN} told her class teacher, Mrs [name removed], that her mother's "
    f"partner {DEAN_TOKEN} had hit her with a belt. {AMARA_TOKEN}'s arm was bruised. "
    f"Police attended ([police reference removed]). Ms [{AMARA_TOKEN} or {GRACE_TOKEN}] "
    f"says {DEAN_TOKEN} no longer stays at the house; she can be reached on "
    "[phone number removed] or [email removed]."
)


def okafor_request(concern_summary: str = NARRATIVE) -> ShareRequestDetails:
    return ShareRequestDetails(people=(AMARA, GRACE, DEAN), concern_summary=concern_summary)


def redacted(text: str, *people: PersonDetails) -> str:
    details = ShareRequestDetails(people=people or (AMARA, GRACE, DEAN), concern_summary="-")
    return redact_text(text, details, salt=SALT).text


# --- the realistic example ----------------------------------------------------------------


def test_the_okafor_narrative_is_redacted_exactly() -> None:
    packet = pseudonymise(okafor_request(), salt=SALT, as_of=ADVICE_DAY)
    assert packet.concern_summary == REDACTED_NARRATIVE


def test_the_okafor_packet_describes_each_person_by_token_age_band_and_area() -> None:
    packet = pseudonymise(okafor_request(), salt=SALT, as_of=ADVICE_DAY)
    assert packet.people == (
        PseudonymisedPerson(
            token=AMARA_TOKEN, role=PersonRole.CHILD, age_band=AgeBand.AGED_10_TO_15, area="SW18"
        ),
        PseudonymisedPerson(
            token=GRACE_TOKEN, role=PersonRole.PARENT, age_band=AgeBand.ADULT, area="SW18"
        ),
        PseudonymisedPerson(
            token=DEAN_TOKEN,
            role=PersonRole.ALLEGED_PERPETRATOR,
            age_band=AgeBand.UNKNOWN,
            area=None,
        ),
    )


def test_the_okafor_packet_counts_what_it_removed() -> None:
    packet = pseudonymise(okafor_request(), salt=SALT, as_of=ADVICE_DAY)
    assert packet.redaction_report == RedactionReport(
        names_replaced=7,
        other_names_removed=1,
        identifiers_removed=2,
        dates_of_birth_removed=1,
        addresses_removed=1,
        postcodes_generalised=1,
        contact_details_removed=2,
    )


def test_the_packet_holds_no_map_from_token_to_person() -> None:
    assert set(AdvicePacket.model_fields) == {"people", "concern_summary", "redaction_report"}
    assert set(PseudonymisedPerson.model_fields) == {"token", "role", "age_band", "area"}
    packet_json = pseudonymise(okafor_request(), salt=SALT, as_of=ADVICE_DAY).model_dump_json()
    for identifying in ("Amara", "Grace", "Okafor", "Dean", "Holt", "Ravensbury", "2016-03-02"):
        assert identifying.casefold() not in packet_json.casefold()


def test_packets_round_trip_through_json() -> None:
    request = okafor_request()
    packet = pseudonymise(request, salt=SALT, as_of=ADVICE_DAY)
    assert AdvicePacket.model_validate_json(packet.model_dump_json()) == packet
    assert ShareRequestDetails.model_validate_json(request.model_dump_json()) == request


# --- tokens and the identity escalation ---------------------------------------------------


def test_tokens_are_stable_across_advice_requests_of_one_share_request() -> None:
    first = pseudonymise(okafor_request(), salt=SALT, as_of=ADVICE_DAY)
    later = pseudonymise(
        okafor_request("Dean Holt has moved back in with Grace."),
        salt=SALT,
        as_of=ADVICE_DAY + timedelta(days=400),
    )
    assert [p.token for p in later.people] == [p.token for p in first.people]
    assert later.concern_summary == f"{DEAN_TOKEN} has moved back in with {GRACE_TOKEN}."


def test_adding_a_person_leaves_the_others_tokens_alone() -> None:
    sibling = PersonDetails(role=PersonRole.SIBLING, given_names="Tobi", family_name="Okafor")
    grown = ShareRequestDetails(people=(sibling, AMARA, GRACE, DEAN), concern_summary="-")
    tokens = [p.token for p in pseudonymise(grown, salt=SALT, as_of=ADVICE_DAY).people]
    assert tokens[1:] == [AMARA_TOKEN, GRACE_TOKEN, DEAN_TOKEN]


def test_another_share_requests_salt_gives_unrelated_tokens() -> None:
    ours = pseudonymise(okafor_request(), salt=SALT, as_of=ADVICE_DAY)
    theirs = pseudonymise(okafor_request(), salt=OTHER_SALT, as_of=ADVICE_DAY)
    for mine, other in zip(ours.people, theirs.people, strict=True):
        assert mine.token.split()[-1] != other.token.split()[-1]


def test_a_name_is_compared_without_case_accents_or_punctuation() -> None:
    def token(given_names: str, family_name: str) -> str:
        person = PersonDetails(
            role=PersonRole.CHILD, given_names=given_names, family_name=family_name
        )
        details = ShareRequestDetails(people=(person,), concern_summary="-")
        return pseudonymise(details, salt=SALT, as_of=ADVICE_DAY).people[0].token

    assert token("Zoë", "O'Brien") == token("ZOE", "O Brien") == token("zoe", "o\u2019brien")
    assert token("Zoë", "O'Brien") != token("Zoë", "Brien")


def test_namesakes_get_different_tokens() -> None:
    father = PersonDetails(role=PersonRole.PARENT, given_names="John", family_name="Smith")
    son = PersonDetails(role=PersonRole.CHILD, given_names="John", family_name="Smith")
    details = ShareRequestDetails(people=(father, son), concern_summary="John Smith shouted.")
    packet = pseudonymise(details, salt=SALT, as_of=ADVICE_DAY)
    father_token, son_token = (p.token for p in packet.people)
    assert father_token.split()[-1] != son_token.split()[-1]
    assert packet.concern_summary == f"[{father_token} or {son_token}] shouted."


@pytest.mark.parametrize(
    ("token", "person"),
    [
        (AMARA_TOKEN, AMARA),
        (GRACE_TOKEN, GRACE),
        (DEAN_TOKEN, DEAN),
        ("child zmn4s", AMARA),  # as an advisor might type it
        ("Parent TZ0PA ", GRACE),
        ("Carer B96MR", DEAN),  # the code decides, not the role label
        ("Parent TZOPA", GRACE),  # Crockford base32 reads O as 0
    ],
)
def test_reveal_identity_finds_the_person_behind_a_token(token: str, person: PersonDetails) -> None:
    assert reveal_identity(okafor_request(), token, salt=SALT) == person


@pytest.mark.parametrize("token", ["", "Child", "Child ZMN4", "Child ZMN4U", "Child 00000"])
def test_reveal_identity_refuses_a_token_that_names_no_one(token: str) -> None:
    with pytest.raises(UnknownPersonToken):
        reveal_identity(okafor_request(), token, salt=SALT)


def test_reveal_identity_needs_the_share_requests_own_salt() -> None:
    with pytest.raises(UnknownPersonToken):
        reveal_identity(okafor_request(), AMARA_TOKEN, salt=OTHER_SALT)


def test_a_short_salt_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        pseudonymise(okafor_request(), salt=b"short", as_of=ADVICE_DAY)


# --- age bands and areas ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "band"),
    [
        (None, AgeBand.UNKNOWN),
        (date(2026, 9, 1), AgeBand.UNBORN),  # pre-birth referral: expected delivery date
        (date(2026, 5, 20), AgeBand.UNDER_1),
        (date(2025, 5, 21), AgeBand.UNDER_1),
        (date(2025, 5, 20), AgeBand.AGED_1_TO_4),
        (date(2021, 5, 21), AgeBand.AGED_1_TO_4),
        (date(2021, 5, 20), AgeBand.AGED_5_TO_9),
        (date(2016, 5, 21), AgeBand.AGED_5_TO_9),
        (date(2016, 5, 20), AgeBand.AGED_10_TO_15),
        (date(2010, 5, 21), AgeBand.AGED_10_TO_15),
        (date(2010, 5, 20), AgeBand.AGED_16_TO_17),
        (date(2008, 5, 21), AgeBand.AGED_16_TO_17),
        (date(2008, 5, 20), AgeBand.ADULT),
        (date(1950, 1, 1), AgeBand.ADULT),
    ],
)
def test_age_bands_count_whole_years_on_the_day(born: date | None, band: AgeBand) -> None:
    assert age_band(born, as_of=ADVICE_DAY) is band


def test_a_leap_day_birthday_falls_on_the_first_of_march() -> None:
    assert age_band(date(2008, 2, 29), as_of=date(2026, 2, 28)) is AgeBand.AGED_16_TO_17
    assert age_band(date(2008, 2, 29), as_of=date(2026, 3, 1)) is AgeBand.ADULT


# --- names in the narrative ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AMARA OKAFOR was seen.", f"{AMARA_TOKEN} was seen."),
        ("amara was seen.", f"{AMARA_TOKEN} was seen."),
        ("Okafor, Amara (child)", f"{AMARA_TOKEN} (child)"),
        ("Amara\nOkafor", AMARA_TOKEN),
        ("Amara\u2019s coat", f"{AMARA_TOKEN}\u2019s coat"),
        ("Grace's partner", f"{GRACE_TOKEN}'s partner"),
        ("the Okafors", f"the [{AMARA_TOKEN} or {GRACE_TOKEN}]"),
        ("Deanna and Holton", "Deanna and Holton"),  # whole words only
        ("Mr Holt left", f"Mr {DEAN_TOKEN} left"),
    ],
)
def test_names_are_found_however_they_are_written(text: str, expected: str) -> None:
    assert redacted(text) == expected


def test_accents_hyphens_and_apostrophes_may_differ_from_the_record() -> None:
    zoe = PersonDetails(
        role=PersonRole.CHILD, given_names="Zoë Mary-Jane", family_name="O'Brien-Smith"
    )
    token = redact_text(
        "Zoë", ShareRequestDetails(people=(zoe,), concern_summary="-"), salt=SALT
    ).text
    text = "ZOE OBRIEN-SMITH; Mary Jane; Jane; O\u2019Brien; Smith; zoe o'brien smith."
    assert redacted(text, zoe) == f"{token}; {token}; {token}; {token}; {token}; {token}."


def test_a_surname_first_listing_is_one_person() -> None:
    amara = AMARA.model_copy(update={"given_names": "Amara Chidinma"})
    token = redacted("Amara", amara)
    assert redacted("OKAFOR, Amara Chidinma; Okafor,Amara; Chidinma.", amara) == (
        f"{token}; {token}; {token}."
    )


def test_aliases_are_scrubbed_like_names() -> None:
    dean = DEAN.model_copy(update={"known_as": ("Deano", "D-Money")})
    assert redacted("Deano, also D-Money.", dean) == f"{DEAN_TOKEN}, also {DEAN_TOKEN}."


def test_name_particles_alone_stay_ordinary_words() -> None:
    ruud = PersonDetails(role=PersonRole.PARENT, given_names="Ruud", family_name="van der Berg")
    token = redacted("Ruud", ruud)
    assert redacted("Mr van der Berg drove a van.", ruud) == f"Mr {token} drove a van."
    assert redacted("Berg", ruud) == token


def test_a_titled_name_the_request_does_not_list_is_removed() -> None:
    assert redacted("Dr. J. Adebayo and Mrs Patel met Ms Okafor.") == (
        f"Dr. [name removed] and Mrs [name removed] met Ms [{AMARA_TOKEN} or {GRACE_TOKEN}]."
    )


# --- identifiers, dates, addresses, contact details ---------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NHS no. 9434765919.", "NHS no. [NHS number removed]."),
        ("nhs 943-476-5919", "nhs [NHS number removed]"),
        ("UPN a820123456789", "UPN [UPN removed]"),
        ("ref cad 4521/12may26", "ref [police reference removed]"),
        ("sibling's NHS number 401 023 2137", "sibling's NHS number [identifier removed]"),
        ("UPN B123456789012", "UPN [identifier removed]"),
        ("call 020 8545 3000", "call [phone number removed]"),
        ("call (020) 8545 3000", "call [phone number removed]"),
        ("call +44 7700 900123", "call [phone number removed]"),
        ("mail dean.holt+x@mail.example.co.uk now", "mail [email removed] now"),
    ],
)
def test_identifiers_and_contact_details_are_removed(text: str, expected: str) -> None:
    assert redacted(text) == expected


@pytest.mark.parametrize(
    "written",
    [
        "02/03/2016",
        "2/3/16",
        "2.3.2016",
        "2016-03-02",
        "2nd March 2016",
        "2 of Mar 2016",
        "March 2, 2016",
    ],
)
def test_a_known_date_of_birth_is_removed_however_it_is_spelt(written: str) -> None:
    assert redacted(f"Seen on {written}.") == "Seen on [date of birth removed]."


def test_any_date_after_born_or_dob_is_removed_and_other_dates_stay() -> None:
    text = "Cousin born 4 June 2012; D.O.B.: 05/07/2013; seen 12 May 2026 and 2026-05-14."
    assert redacted(text) == (
        "Cousin born [date of birth removed]; D.O.B.: [date of birth removed]; "
        "seen 12 May 2026 and 2026-05-14."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("at 14 Ravensbury Terrace.", "at [address removed]."),
        ("seen on Ravensbury Terrace", "seen on [address removed]"),
        ("at Flat 3, 27a Mill Lane", "at [address removed]"),
        ("at 9 St Johns Road", "at [address removed]"),
        ("spent 2 days in the park", "spent 2 days in the park"),
        ("postcode sw184rl", "postcode [area SW18]"),
        ("near CR4 3HT", "near [area CR4]"),
    ],
)
def test_addresses_are_removed_and_postcodes_cut_to_the_district(text: str, expected: str) -> None:
    assert redacted(text) == expected


def test_the_advice_question_is_redacted_with_the_same_tokens() -> None:
    question = redact_text(
        "May we tell the school about Dean Holt's bail conditions for Amara?",
        okafor_request(),
        salt=SALT,
    )
    assert question.text == (
        f"May we tell the school about {DEAN_TOKEN}'s bail conditions for {AMARA_TOKEN}?"
    )
    assert question.redaction_report == RedactionReport(names_replaced=2)


def test_private_use_characters_in_the_text_cannot_pose_as_replacements() -> None:
    assert redacted("\U000f0000 Amara") == f"\ufffd {AMARA_TOKEN}"


# --- properties: nothing identifying leaves, tokens stay stable ---------------------------

_TEMPLATE_WORDS = (
    "and with of born DOB NHS number lives at Ms Mr Mrs said saw the school told "
    "police visited on May postcode also known as"
)
# Words a packet contains whatever the names: a generated name equal to one of them would
# "appear" without having leaked.
_PACKET_VOCABULARY = frozenset(
    re.findall(
        r"[a-z0-9]+",
        " ".join(
            [
                _TEMPLATE_WORDS.lower(),
                "child parent carer sibling alleged perpetrator referrer person unknown unborn",
                "under removed identifier police reference upn date birth address area email",
                "phone name or",
                *AdvicePacket.model_fields,
                *PseudonymisedPerson.model_fields,
                *RedactionReport.model_fields,
            ]
        ),
    )
)

_name_words = (
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzéëöüçñ", min_size=3, max_size=10)
    .map(str.capitalize)
    .filter(lambda word: _without_accents(word).casefold() not in _PACKET_VOCABULARY)
)
_given_names = st.lists(_name_words, min_size=1, max_size=2).map(" ".join)
_family_names = _name_words | st.tuples(_name_words, _name_words).map("-".join)
_nhs_numbers = (
    st.text(alphabet="0123456789", min_size=9, max_size=9)
    .map(lambda first_nine: (first_nine, nhs_check_digit(first_nine)))
    .filter(lambda pair: pair[1] is not None)
    .map(lambda pair: f"{pair[0]}{pair[1]}")
)
_inward_letters = "ABDEFGHJLNPQRSTUWXYZ"
_postcodes = st.builds(
    lambda area, district, sector, unit: f"{area}{district} {sector}{unit}",
    st.text(alphabet="ABCDEFGHIJKLMNOPRSTUWYZ", min_size=1, max_size=2),
    st.integers(min_value=1, max_value=99).map(str),
    st.integers(min_value=0, max_value=9).map(str),
    st.text(alphabet=_inward_letters, min_size=2, max_size=2),
)
_street_kinds = st.sampled_from(["Road", "Street", "Terrace", "Close", "Gardens", "Way"])


@dataclass(frozen=True)
class _Scenario:
    details: ShareRequestDetails
    streets: tuple[str, ...]


@st.composite
def _people(draw: st.DrawFn) -> tuple[PersonDetails, str]:
    street = draw(_name_words)
    person = PersonDetails(
        role=draw(st.sampled_from(PersonRole)),
        given_names=draw(_given_names),
        family_name=draw(_family_names),
        date_of_birth=draw(st.dates(min_value=date(1940, 1, 1), max_value=date(2027, 1, 1))),
        address=Address(
            lines=(f"{draw(st.integers(1, 300))} {street} {draw(_street_kinds)}",),
            postcode=draw(_postcodes),
        ),
        identifiers=PersonIdentifiers(nhs_number=draw(_nhs_numbers)),
    )
    return person, street


def _mentions(person: PersonDetails) -> list[str]:
    """Every way the generated narrative writes this person's details."""
    given, family = person.given_names, person.family_name
    nhs = person.identifiers.nhs_number or ""
    born = person.date_of_birth or date(2000, 1, 1)
    address = person.address or Address()
    return [
        f"{given} {family} said",
        f"{given}'s school",
        f"the {family.upper()} family",
        f"Ms {family} told police",
        f"{family}, {given}",
        f"{_without_accents(family)} again",
        f"{given.split()[0].lower()} saw",
        f"NHS number {nhs[:3]} {nhs[3:6]} {nhs[6:]}",
        f"NHS number {nhs}",
        f"born {born:%d/%m/%Y}",
        f"DOB {born.isoformat()}",
        f"on {born.day} {born:%B %Y}",
        f"lives at {address.lines[0]}, {address.postcode}",
        f"postcode {(address.postcode or '').replace(' ', '').lower()}",
    ]


@st.composite
def _scenarios(draw: st.DrawFn) -> _Scenario:
    drawn = draw(st.lists(_people(), min_size=1, max_size=4))
    people = tuple(person for person, _ in drawn)
    mentions = [mention for person in people for mention in _mentions(person)]
    narrative = ". ".join(draw(st.permutations(mentions))) + "."
    return _Scenario(
        details=ShareRequestDetails(people=people, concern_summary=narrative),
        streets=tuple(street for _, street in drawn),
    )


def _without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _contains_word(text: str, word: str) -> bool:
    pattern = rf"(?<!\w){re.escape(_without_accents(word))}(?!\w)"
    return re.search(pattern, _without_accents(text), re.IGNORECASE) is not None


def _packet_text(packet: AdvicePacket) -> str:
    # The JSON as a reader sees it, with any \u escapes decoded.
    return json.dumps(json.loads(packet.model_dump_json()), ensure_ascii=False)


@settings(max_examples=150, deadline=None)
@given(_scenarios())
def test_no_name_identifier_postcode_or_date_of_birth_reaches_the_packet(
    scenario: _Scenario,
) -> None:
    packet = pseudonymise(scenario.details, salt=SALT, as_of=ADVICE_DAY)
    text = _packet_text(packet)
    folded = text.casefold()
    for person in scenario.details.people:
        for word in re.split(r"[\s-]+", f"{person.given_names} {person.family_name}"):
            assert not _contains_word(text, word), word
        nhs = person.identifiers.nhs_number or ""
        assert nhs not in text
        assert f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}" not in text
        postcode = (person.address.postcode if person.address else None) or ""
        assert postcode.casefold() not in folded
        assert postcode.replace(" ", "").casefold() not in folded
        born = person.date_of_birth or date(2000, 1, 1)
        for spelling in (born.isoformat(), f"{born:%d/%m/%Y}", f"{born.day} {born:%B %Y}"):
            assert spelling.casefold() not in folded
    for street in scenario.streets:
        assert not _contains_word(text, street), street


@settings(max_examples=100, deadline=None)
@given(_scenarios())
def test_each_person_is_named_by_their_own_stable_token(scenario: _Scenario) -> None:
    packet = pseudonymise(scenario.details, salt=SALT, as_of=ADVICE_DAY)
    again = pseudonymise(scenario.details, salt=SALT, as_of=ADVICE_DAY + timedelta(days=90))
    assert [p.token for p in again.people] == [p.token for p in packet.people]
    assert again.concern_summary == packet.concern_summary
    assert len({p.token.split()[-1] for p in packet.people}) == len(packet.people)
    for person, pseudonymised in zip(scenario.details.people, packet.people, strict=True):
        assert pseudonymised.token in packet.concern_summary
        assert reveal_identity(scenario.details, pseudonymised.token, salt=SALT) == person


@settings(max_examples=100, deadline=None)
@given(_scenarios())
def test_another_salt_gives_other_tokens(scenario: _Scenario) -> None:
    ours = pseudonymise(scenario.details, salt=SALT, as_of=ADVICE_DAY)
    theirs = pseudonymise(scenario.details, salt=OTHER_SALT, as_of=ADVICE_DAY)
    assert [p.token for p in theirs.people] != [p.token for p in ours.people]
