"""Canonical JSON (RFC 8785) and the chain hash formula."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from events.canonical import (
    GENESIS_HASH,
    CanonicalTemplate,
    canonical_json,
    chain_hash,
    format_timestamp,
)


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": "é", "c": None}]}) == (
        '{"a":[1,{"c":null,"d":"é"}],"b":1}'.encode()
    )


def test_canonical_numbers_follow_rfc_8785() -> None:
    assert canonical_json([1.0, 1e21, 0.1]) == b"[1,1e+21,0.1]"


def test_chain_hash_is_sha256_of_previous_hash_then_bytes() -> None:
    assert chain_hash(GENESIS_HASH, b"{}") == hashlib.sha256(bytes(32) + b"{}").digest()


def test_timestamps_have_one_spelling() -> None:
    london = timezone(timedelta(hours=1))
    moment = datetime(2026, 6, 1, 10, 0, 0, 5, tzinfo=london)
    assert format_timestamp(moment) == "2026-06-01T09:00:00.000005Z"
    with pytest.raises(ValueError):
        format_timestamp(datetime(2026, 6, 1))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=1000, deadline=None)
@given(json_values)
def test_fast_canonical_json_matches_the_reference_implementation(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(rfc8785.CanonicalizationError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(alphabet="abcdefgh_", min_size=1, max_size=5), json_values),
    st.integers(min_value=0, max_value=2**40),
    st.text(),
)
def test_a_template_renders_the_canonical_form_of_the_whole_object(
    fixed: dict[str, object], number: int, text: str
) -> None:
    fixed = {k: v for k, v in fixed.items() if k not in ("position", "recorded")}
    template = CanonicalTemplate(fixed, ("position", "recorded"))
    whole = {**fixed, "position": number, "recorded": text}
    assert template.render(position=number, recorded=text) == rfc8785.dumps(whole)
