"""Canonical JSON (RFC 8785) and the chain hash formula."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from events.canonical import (
    GENESIS_HASH,
    EnvelopeParts,
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
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=1000, deadline=None)
@given(json_values)
def test_fast_canonical_json_matches_the_reference_implementation(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(rfc8785.CanonicalizationError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "actor": st.dictionaries(st.sampled_from(["id", "role", "agency"]), st.text()),
            "correlation_id": st.none() | st.text(),
            "data": st.dictionaries(st.text(max_size=8), json_values),
            "event_id": st.uuids().map(str),
            "metadata": st.dictionaries(st.text(max_size=8), json_values, max_size=2),
            "occurred_at": st.text(max_size=30),
            "schema_version": st.integers(min_value=1, max_value=99),
            "stream_id": st.text(),
            "subject_id": st.none() | st.text(),
            "type": st.text(min_size=1),
        }
    ),
    st.integers(min_value=1, max_value=2**53 - 1),
    st.integers(min_value=1, max_value=2**31 - 1),
    st.text(max_size=30),
)
def test_joined_envelope_parts_are_the_canonical_form_of_the_whole_envelope(
    envelope: dict[str, Any], position: int, version: int, recorded_at: str
) -> None:
    try:
        expected = rfc8785.dumps(
            {
                **envelope,
                "global_position": position,
                "stream_version": version,
                "recorded_at": recorded_at,
            }
        )
    except rfc8785.CanonicalizationError:
        return
    rendered = EnvelopeParts.of(envelope).render(
        global_position=position, stream_version=version, recorded_at=recorded_at
    )
    assert rendered == expected
