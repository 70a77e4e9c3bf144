"""Pseudonymised advice packets: what an information governance advisor sees of a request.

Golden rule 3: seek advice "without disclosing the identity of the individual where
possible". The advisor gets an ``AdvicePacket``; the identity behind a token comes back
only through ``reveal_identity``, which the workflow calls on an explicit, recorded
escalation.

What the packet keeps and loses:

- **Names become tokens**: a role label and a stable code, e.g. ``Child 7F3KQ``,
  ``Parent Q2ZD8``. The code is HMAC-SHA256, keyed by the request's secret salt, over
  the person's normalised name (accents, case, punctuation folded), rendered in
  Crockford base32 (no I, L, O, U: nothing to misread aloud). The same salt and name
  give the same code in every advice request of a share request; another request's
  salt gives unrelated codes, so packets cannot be linked across requests. The role
  label is context for the advisor; a re-classified person keeps the code.
- **Date of birth becomes an age band** as of a given day: unborn, under 1, 1-4, 5-9,
  10-15, 16-17, 18+ (the DfE children-in-need and looked-after statistics bands, with
  16+ split at the age of majority; "unborn" covers pre-birth referrals).
- **Address becomes an area**: the postcode district (outward code), e.g. ``SW18``.
- **Identifiers are removed** (NHS number, police reference, UPN).
- **The narrative is scrubbed** in stages: the request's own identifiers; e-mail
  addresses and phone numbers; NHS-number-like ten-digit groups and UPN-like codes;
  known dates of birth (in any common spelling) and any date after "born" or "DOB";
  known address lines and house-number-and-street phrases; full postcodes (down to the
  district); every known name, alias and name part (case- and accent-insensitive, whole
  words, possessives and hyphen/apostrophe variants included); finally a title followed
  by a capitalised word ("Mrs Patel"), the one pattern by which a name the request does
  not list can be recognised. Other dates stay: the advisor needs the chronology.

The people, addresses and identifiers a packet is made from are ``workflows.details``.

Pure and free of I/O (``hmac`` and ``re`` only): it runs inside the Temporal sandbox.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from workflows.details import (
    INWARD_CODE,
    OUTWARD_CODE,
    Address,
    PersonDetails,
    PersonRole,
    ShareRequestDetails,
    postcode_district,
)

MIN_SALT_BYTES = 16

_TOKEN_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
_TOKEN_CODE_LENGTH = 5  # 33.5 million codes: collisions within a request are lengthened away
# Domain separation, so a salt reused elsewhere can never yield these codes.
_TOKEN_CONTEXT = b"sharehub/advice-token/v1\x00"


# --- the advice packet --------------------------------------------------------------------


class AgeBand(StrEnum):
    UNBORN = "unborn"
    UNDER_1 = "under 1"
    AGED_1_TO_4 = "1-4"
    AGED_5_TO_9 = "5-9"
    AGED_10_TO_15 = "10-15"
    AGED_16_TO_17 = "16-17"
    ADULT = "18+"
    UNKNOWN = "unknown"


class PseudonymisedPerson(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    token: str
    role: PersonRole
    age_band: AgeBand
    area: str | None = Field(description="postcode district, e.g. SW18; None if unknown")


class RedactionReport(BaseModel):
    """How many replacements each kind of scrubbing made in the text: counts, never values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    names_replaced: int = 0
    other_names_removed: int = 0
    identifiers_removed: int = 0
    dates_of_birth_removed: int = 0
    addresses_removed: int = 0
    postcodes_generalised: int = 0
    contact_details_removed: int = 0


class RedactedText(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    redaction_report: RedactionReport


class AdvicePacket(BaseModel):
    """What an advisor may see: tokens, age bands, areas and the scrubbed narrative.

    It holds no name, identifier, date of birth, street or full postcode, and no map
    from token to person.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    people: tuple[PseudonymisedPerson, ...]
    concern_summary: str
    redaction_report: RedactionReport


class UnknownPersonToken(LookupError):
    """A token that names no one, or more than one person, in the share request."""


def pseudonymise(request_details: ShareRequestDetails, *, salt: bytes, as_of: date) -> AdvicePacket:
    """The advice packet for ``request_details``; ages are counted as of ``as_of``.

    Args:
        request_details: the people and narrative of the share request.
        salt: the request's secret token key (at least 16 bytes), the same for every
            advice request of one share request so that tokens stay the same.
        as_of: the day the age bands describe, normally the day advice is sought.
    """
    tokens = _person_tokens(request_details.people, salt)
    people = tuple(
        PseudonymisedPerson(
            token=token,
            role=person.role,
            age_band=age_band(person.date_of_birth, as_of=as_of),
            area=_area(person.address),
        )
        for person, token in zip(request_details.people, tokens, strict=True)
    )
    narrative = redact_text(request_details.concern_summary, request_details, salt=salt)
    return AdvicePacket(
        people=people,
        concern_summary=narrative.text,
        redaction_report=narrative.redaction_report,
    )


def redact_text(text: str, request_details: ShareRequestDetails, *, salt: bytes) -> RedactedText:
    """``text`` scrubbed as the packet's narrative is, with the request's tokens.

    For any other free text an advisor will read, such as the question put to them.
    """
    tokens = _person_tokens(request_details.people, salt)
    redaction = _Redaction(text)
    people = request_details.people
    # The order matters: e-mail addresses and streets contain names ("Holt Road"), so
    # they go whole before names are looked for; names go before the titled-name rule,
    # which must only catch the names the request does not list.
    redaction.replace(_known_identifiers_pattern(people), "identifiers_removed", _identifier_label)
    redaction.replace(_EMAIL, "contact_details_removed", lambda _: "[email removed]")
    redaction.replace(_PHONE, "contact_details_removed", lambda _: "[phone number removed]")
    redaction.replace(_NHS_NUMBER_LIKE, "identifiers_removed", lambda _: "[identifier removed]")
    redaction.replace(_UPN_LIKE, "identifiers_removed", lambda _: "[identifier removed]")
    _remove_dates_of_birth(redaction, {p.date_of_birth for p in people if p.date_of_birth})
    redaction.replace(_known_address_pattern(people), "addresses_removed", _address_label)
    redaction.replace(_STREET_ADDRESS, "addresses_removed", _address_label)
    redaction.replace(_POSTCODE_IN_TEXT, "postcodes_generalised", _postcode_area_label)
    _replace_names(redaction, people, tokens)
    redaction.replace(_TITLED_NAME, "other_names_removed", _titled_name_label)
    return RedactedText(text=redaction.result(), redaction_report=redaction.report())


def reveal_identity(
    request_details: ShareRequestDetails, token: str, *, salt: bytes
) -> PersonDetails:
    """The person behind an advice-packet token: only for a recorded identity escalation.

    The code decides, not the role label, so a token from an earlier packet still
    resolves after the person's role has changed.

    Raises:
        UnknownPersonToken: the token matches no one, or more than one person.
    """
    code = _code_of_token(token)
    # Full codes: a code shortened since the packet was made (a colliding person
    # removed) still has to resolve.
    codes = _full_codes(request_details.people, salt)
    matches = [
        person
        for person, person_code in zip(request_details.people, codes, strict=True)
        if person_code.startswith(code)
    ]
    if len(matches) != 1:
        raise UnknownPersonToken(
            f"token {token!r} names {'no one' if not matches else 'several people'} "
            "in this share request"
        )
    return matches[0]


def age_band(date_of_birth: date | None, *, as_of: date) -> AgeBand:
    """The age band of someone born on ``date_of_birth``, on the day ``as_of``."""
    if date_of_birth is None:
        return AgeBand.UNKNOWN
    if date_of_birth > as_of:
        return AgeBand.UNBORN
    had_birthday = (as_of.month, as_of.day) >= (date_of_birth.month, date_of_birth.day)
    years = as_of.year - date_of_birth.year - (0 if had_birthday else 1)
    if years < 1:
        return AgeBand.UNDER_1
    if years < 5:
        return AgeBand.AGED_1_TO_4
    if years < 10:
        return AgeBand.AGED_5_TO_9
    if years < 16:
        return AgeBand.AGED_10_TO_15
    if years < 18:
        return AgeBand.AGED_16_TO_17
    return AgeBand.ADULT


def _area(address: Address | None) -> str | None:
    if address is None or address.postcode is None:
        return None
    return postcode_district(address.postcode)


# --- tokens -------------------------------------------------------------------------------


# How a token names a person's role to the advisor: context, not identity.
_ROLE_LABELS = {
    PersonRole.CHILD: "Child",
    PersonRole.PARENT: "Parent",
    PersonRole.CARER: "Carer",
    PersonRole.SIBLING: "Sibling",
    PersonRole.ALLEGED_PERPETRATOR: "Alleged perpetrator",
    PersonRole.REFERRER: "Referrer",
    PersonRole.OTHER: "Person",
}


def _person_tokens(people: Sequence[PersonDetails], salt: bytes) -> list[str]:
    codes = _person_codes(people, salt)
    return [f"{_ROLE_LABELS[p.role]} {code}" for p, code in zip(people, codes, strict=True)]


def _person_codes(people: Sequence[PersonDetails], salt: bytes) -> list[str]:
    """Each person's code, as short as it can be while no two people share one."""
    full_codes = _full_codes(people, salt)
    length = _TOKEN_CODE_LENGTH
    while len({code[:length] for code in full_codes}) < len(full_codes):
        length += 1
    return [code[:length] for code in full_codes]


def _full_codes(people: Sequence[PersonDetails], salt: bytes) -> list[str]:
    if len(salt) < MIN_SALT_BYTES:
        raise ValueError(f"the token salt must be at least {MIN_SALT_BYTES} bytes")
    full_codes = []
    namesakes_so_far: Counter[str] = Counter()
    for person in people:
        name = _comparable(f"{person.given_names} {person.family_name}")
        # Two people of one name (a father and son) need different codes: the second is
        # told apart by how many namesakes come before them.
        message = f"{name}\x00{namesakes_so_far[name]}".encode()
        namesakes_so_far[name] += 1
        digest = hmac.new(salt, _TOKEN_CONTEXT + message, hashlib.sha256).digest()
        full_codes.append(_crockford_base32(digest))
    return full_codes


def _crockford_base32(digest: bytes) -> str:
    number = int.from_bytes(digest, "big")
    characters = []
    for _ in range(len(digest) * 8 // 5):
        number, remainder = divmod(number, 32)
        characters.append(_TOKEN_ALPHABET[remainder])
    return "".join(characters)


def _code_of_token(token: str) -> str:
    words = token.split()
    if not words:
        raise UnknownPersonToken("an empty token names no one")
    # Crockford base32 reads the letters people confuse with digits as those digits.
    code = words[-1].upper().translate(str.maketrans("OIL", "011"))
    if len(code) < _TOKEN_CODE_LENGTH or any(c not in _TOKEN_ALPHABET for c in code):
        raise UnknownPersonToken(f"{token!r} is not an advice-packet token")
    return code


# --- the narrative scrubber ---------------------------------------------------------------

# Each replacement is parked behind one character of a private-use plane, so later
# stages can neither match inside it nor scrub it twice.
_PARKING_FIRST = 0xF0000
_PARKING_SIZE = 0x20000 - 2
_PARKING_CHARACTERS = re.compile("[\U000f0000-\U0010ffff]")


class _Redaction:
    def __init__(self, text: str) -> None:
        normalised = unicodedata.normalize("NFC", text)
        self.text = _PARKING_CHARACTERS.sub("\ufffd", normalised)
        self._parked: list[str] = []
        self._counts: Counter[str] = Counter()

    def replace(
        self,
        pattern: re.Pattern[str] | None,
        category: str,
        replacement: Callable[[re.Match[str]], str | None],
        *,
        accent_insensitive: bool = False,
    ) -> None:
        """Park ``replacement(match)`` in place of each match it does not answer None for."""
        if pattern is None:
            return
        # Folding keeps one character per character, so spans found in the folded text
        # are spans of the real text.
        searched = _fold_accents(self.text) if accent_insensitive else self.text
        pieces = []
        end_of_last = 0
        for match in pattern.finditer(searched):
            replaced = replacement(match)
            if replaced is None:
                continue
            pieces.append(self.text[end_of_last : match.start()])
            pieces.append(self._park(replaced))
            self._counts[category] += 1
            end_of_last = match.end()
        pieces.append(self.text[end_of_last:])
        self.text = "".join(pieces)

    def preceding(self, position: int, length: int) -> str:
        return self.text[max(0, position - length) : position]

    def result(self) -> str:
        return _PARKING_CHARACTERS.sub(
            lambda parked: self._parked[ord(parked.group()) - _PARKING_FIRST], self.text
        )

    def report(self) -> RedactionReport:
        return RedactionReport.model_validate(dict(self._counts))

    def _park(self, replacement: str) -> str:
        if len(self._parked) >= _PARKING_SIZE:
            raise ValueError("the text has too many things to redact")
        self._parked.append(replacement)
        return chr(_PARKING_FIRST + len(self._parked) - 1)


def _fold_accents(text: str) -> str:
    return "".join(_fold_accent(character) for character in text)


def _fold_accent(character: str) -> str:
    decomposed = unicodedata.normalize("NFD", character)
    if len(decomposed) > 1 and all(unicodedata.combining(mark) for mark in decomposed[1:]):
        return decomposed[0]
    return character


def _comparable(name: str) -> str:
    """A name as tokens compare it: accents, case and punctuation folded away."""
    folded = _fold_accents(unicodedata.normalize("NFKC", name)).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in folded).split())


# Apostrophes and hyphens as names are typed: straight, curly, modifier letter; hyphen,
# non-breaking hyphen, en dash.
_APOSTROPHES = "'\u2019\u2018\u02bc`"
_HYPHENS = "-\u2010\u2011\u2013"
_APOSTROPHE_CLASS = f"[{re.escape(_APOSTROPHES)}]"
_HYPHEN_CLASS = f"[{re.escape(_HYPHENS)}]"
# A capitalised word, as a name or a street name is written.
_NAME_WORD = f"[A-Z][\\w{re.escape(_APOSTROPHES + _HYPHENS)}]"

_BOUNDED_START = r"(?<![A-Za-z0-9])"
_BOUNDED_END = r"(?![A-Za-z0-9])"

_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"(?:\+44\s?(?:\(0\)\s?)?|0)\d(?:[\s-]?\d){8,9}"  # 020 8545 3000, +44 7700 900123
    r"|\(0\d{2,4}\)\s?\d{3,4}[\s-]?\d{3,4}"  # (020) 8545 3000
    r")(?!\d)"
)
_NHS_NUMBER_LIKE = re.compile(r"(?<!\w)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\w)")
_UPN_LIKE = re.compile(_BOUNDED_START + r"[A-Za-z]\d{11}[0-9A-Za-z]" + _BOUNDED_END)
_POSTCODE_IN_TEXT = re.compile(
    _BOUNDED_START + f"({OUTWARD_CODE})" + r"\s*" + f"({INWARD_CODE})" + _BOUNDED_END,
    re.IGNORECASE,
)
_STREET_KINDS = (
    "Road|Rd|Street|St|Avenue|Ave|Lane|Ln|Close|Drive|Dr|Way|Terrace|Gardens|Gdns|Court|Ct"
    "|Place|Pl|Crescent|Cres|Grove|Hill|Park|Square|Sq|Walk|Row|Mews|Rise|Green|Parade"
    "|Estate|House|Heights|Vale|View|Yard|Wharf|Path|Passage|Quay"
)
# A house number, then capitalised words ending in a kind of street: "14 Ravensbury
# Terrace", "Flat 3, 27a Mill Lane". Street words must be capitalised, or "2 days in
# the park" would read as an address.
_STREET_ADDRESS = re.compile(
    r"(?<!\w)(?:(?i:flat|apartment|unit)\s+\d+[A-Za-z]?,?\s+)?\d{1,4}[A-Za-z]?,?\s+"
    f"(?:{_NAME_WORD}*\\s+){{1,3}}(?i:{_STREET_KINDS})\\.?(?!\\w)"
)
_TITLED_NAME = re.compile(
    r"(?<!\w)(?P<title>(?:Mr|Mrs|Ms|Miss|Mx|Dr|Master)\.?)\s+(?:[A-Z]\.?\s+)*" + _NAME_WORD + "+"
)


def _identifier_label(match: re.Match[str]) -> str:
    return _IDENTIFIER_LABELS[match.lastgroup or ""]


_IDENTIFIER_LABELS = {
    "nhs_number": "[NHS number removed]",
    "police_reference": "[police reference removed]",
    "unique_pupil_number": "[UPN removed]",
}


def _known_identifiers_pattern(people: Iterable[PersonDetails]) -> re.Pattern[str] | None:
    alternatives: dict[str, set[str]] = {kind: set() for kind in _IDENTIFIER_LABELS}
    for person in people:
        known = person.identifiers
        if known.nhs_number is not None:
            alternatives["nhs_number"].add(r"[\s-]?".join(known.nhs_number))
        if known.police_reference is not None:
            alternatives["police_reference"].add(_flexible_spacing(known.police_reference))
        if known.unique_pupil_number is not None:
            alternatives["unique_pupil_number"].add(re.escape(known.unique_pupil_number))
    groups = [
        f"(?P<{kind}>{'|'.join(sorted(patterns, key=len, reverse=True))})"
        for kind, patterns in alternatives.items()
        if patterns
    ]
    if not groups:
        return None
    return re.compile(_BOUNDED_START + f"(?:{'|'.join(groups)})" + _BOUNDED_END, re.IGNORECASE)


def _flexible_spacing(text: str) -> str:
    return r"[\s,]+".join(re.escape(word) for word in text.replace(",", " ").split())


def _address_label(_: re.Match[str]) -> str:
    return "[address removed]"


def _known_address_pattern(people: Iterable[PersonDetails]) -> re.Pattern[str] | None:
    phrases = set()
    for person in people:
        for line in person.address.lines if person.address else ():
            phrases.add(line)
            # The street without the house number: "seen on Ravensbury Terrace".
            street = _HOUSE_NUMBER_PREFIX.sub("", line)
            if street != line and len(street.split()) >= 2:
                phrases.add(street)
    # A line with no word of three letters ("3", "Flat 2") would match all over the text.
    patterns = [_flexible_spacing(p) for p in phrases if re.search(r"[^\W\d_]{3}", p)]
    if not patterns:
        return None
    patterns.sort(key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(patterns) + r")(?!\w)", re.IGNORECASE)


_HOUSE_NUMBER_PREFIX = re.compile(
    r"^(?:(?:flat|apartment|unit)\s+\d+[a-z]?,?\s+)?\d{1,4}[a-z]?,?\s+", re.IGNORECASE
)


def _postcode_area_label(match: re.Match[str]) -> str:
    return f"[area {match.group(1).upper()}]"


def _titled_name_label(match: re.Match[str]) -> str:
    return f"{match.group('title')} [name removed]"


# --- dates of birth -----------------------------------------------------------------------

_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    "|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_MONTH_NUMBERS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_MONTH = r"(?<![A-Za-z])(?P<month_name>" + _MONTHS + r")\.?(?![A-Za-z])"
_DAY = r"(?<!\d)(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_DATE_PATTERNS = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"(?<!\d)(?P<year>\d{4})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})(?!\d)",
        r"(?<!\d)(?P<day>\d{1,2})[-/.](?P<month>\d{1,2})[-/.](?P<year>\d{4}|\d{2})(?!\d)",
        _DAY + r"\s+(?:of\s+)?" + _MONTH + r",?\s+(?P<year>\d{4})(?!\d)",
        _MONTH + r"\s+" + _DAY + r",?\s+(?P<year>\d{4})(?!\d)",
    )
)
# After these words any date is someone's date of birth, listed in the request or not.
_BIRTH_CUE = re.compile(
    r"(?<!\w)(?:born|d\.?o\.?b\.?|date\s+of\s+birth)\W*(?:(?:on|is|was)\s+)?$", re.IGNORECASE
)


def _remove_dates_of_birth(redaction: _Redaction, dates_of_birth: set[date]) -> None:
    def label(match: re.Match[str]) -> str | None:
        if _BIRTH_CUE.search(redaction.preceding(match.start(), 40)):
            return "[date of birth removed]"
        if any(_spells(match, birth) for birth in dates_of_birth):
            return "[date of birth removed]"
        return None

    for pattern in _DATE_PATTERNS:
        redaction.replace(pattern, "dates_of_birth_removed", label)


def _spells(match: re.Match[str], day: date) -> bool:
    """Whether a matched date spells ``day``; a two-digit year matches in any century."""
    parts = match.groupdict()
    month_name = parts.get("month_name")
    month = _MONTH_NUMBERS[month_name[:3].lower()] if month_name else int(parts["month"])
    year = parts["year"]
    year_matches = int(year) == day.year % 100 if len(year) == 2 else int(year) == day.year
    return year_matches and month == day.month and int(parts["day"]) == day.day


# --- names --------------------------------------------------------------------------------

# Family-name particles that, alone, are ordinary words ("van", "de", "al"): scrubbed as
# part of the family name, never on their own. A given name "Bin" is still a name.
_PARTICLES = frozenset(
    {"ap", "bin", "bint", "da", "das", "de", "del", "della", "den", "der", "di", "dos", "du"}
    | {"el", "ibn", "la", "le", "st", "van", "von"}
)


def _replace_names(
    redaction: _Redaction, people: Sequence[PersonDetails], tokens: Sequence[str]
) -> None:
    owners: dict[str, set[int]] = {}
    for index, person in enumerate(people):
        for pattern in _name_patterns(person):
            owners.setdefault(pattern, set()).add(index)
    if not owners:
        return
    # Longest first: "Grace Okafor" must win over "Grace" at the same position.
    ordered = sorted(owners, key=len, reverse=True)
    names = re.compile(
        r"(?<!\w)(?:"
        + "|".join(f"(?P<n{number}>{pattern})" for number, pattern in enumerate(ordered))
        + r")(?!\w)",
        re.IGNORECASE,
    )

    def label(match: re.Match[str]) -> str:
        pattern = ordered[int((match.lastgroup or "n0")[1:])]
        owner_tokens = [tokens[index] for index in sorted(owners[pattern])]
        # A name part several people share (a family name) cannot say whom it means.
        return owner_tokens[0] if len(owner_tokens) == 1 else f"[{' or '.join(owner_tokens)}]"

    redaction.replace(names, "names_replaced", label, accent_insensitive=True)


def _name_patterns(person: PersonDetails) -> set[str]:
    given = _phrase_pattern(_name_words(person.given_names))
    first_given = _phrase_pattern(_name_words(person.given_names)[:1])
    family = _phrase_pattern(_name_words(person.family_name))
    patterns = {
        rf"{given}\s+{family}",
        rf"{first_given}\s+{family}",
        rf"{family}\s*,\s*{given}",  # "Okafor, Amara", as records list people
        rf"{family}\s*,\s*{first_given}",
        given,
        family,
        f"{family}s?",  # "the Okafors"
    }
    for alias in person.known_as:
        patterns.add(_phrase_pattern(_name_words(alias)))
        patterns.add(rf"{_phrase_pattern(_name_words(alias))}\s+{family}")
    for name, may_have_particles in ((person.given_names, False), (person.family_name, True)):
        words = _name_words(name)
        for word in words:
            for part in {word, *re.split(_HYPHEN_CLASS, word)}:
                is_whole_name = len(words) == 1 and part == word
                is_particle = (
                    may_have_particles
                    and part.strip(".").casefold() in _PARTICLES
                    and not is_whole_name
                )
                if sum(c.isalpha() for c in part) >= 2 and not is_particle:
                    patterns.add(_phrase_pattern([part]))
    return patterns


def _name_words(name: str) -> list[str]:
    return _fold_accents(unicodedata.normalize("NFC", name)).split()


def _phrase_pattern(words: list[str]) -> str:
    return r"\s+".join(_word_pattern(word) for word in words)


def _word_pattern(word: str) -> str:
    pieces = []
    for character in word:
        if character in _APOSTROPHES:
            pieces.append(f"{_APOSTROPHE_CLASS}?")  # O'Brien, O\u2019Brien, OBrien
        elif character in _HYPHENS:
            pieces.append(f"(?:{_HYPHEN_CLASS}|\\s+)?")  # Mary-Jane, Mary Jane, MaryJane
        else:
            pieces.append(re.escape(character))
    return "".join(pieces)
