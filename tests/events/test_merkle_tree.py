"""MerkleTree gives, in O(log n), exactly the roots and proofs the reference functions build."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.merkle import (
    EMPTY_ROOT,
    MerkleError,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)


def leaves(count: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(i.to_bytes(8, "big")).digest()) for i in range(count)]


def grown(count: int) -> tuple[MerkleTree, list[bytes]]:
    tree = MerkleTree()
    hashes = leaves(count)
    for leaf in hashes:
        tree.append(leaf)
    return tree, hashes


@settings(max_examples=60, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=300))
def test_roots_and_proofs_of_every_size_equal_the_reference(data: st.DataObject, size: int) -> None:
    tree, hashes = grown(size)
    at = data.draw(st.integers(min_value=0, max_value=size), label="a smaller size")
    assert tree.root(at) == root(hashes[:at])
    if at:
        index = data.draw(st.integers(min_value=0, max_value=at - 1), label="index")
        proof = tree.inclusion_proof(index, at)
        assert proof == inclusion_proof(hashes[:at], index)
        assert verify_inclusion(hashes[index], index, at, proof, tree.root(at))
    old = data.draw(st.integers(min_value=0, max_value=at), label="old size")
    proof = tree.consistency_proof(old, at)
    assert proof == consistency_proof(hashes[:at], old)
    if 0 < old < at:
        assert verify_consistency(old, at, tree.root(old), tree.root(at), proof)


def test_across_a_large_tree_every_checkpoint_pair_is_consistent() -> None:
    tree, hashes = grown(5000)
    sizes = [1, 7, 64, 65, 1000, 4095, 4096, 4097, 5000]
    for old, new in itertools.pairwise(sizes):
        proof = tree.consistency_proof(old, new)
        assert proof == consistency_proof(hashes[:new], old)
        assert verify_consistency(old, new, tree.root(old), tree.root(new), proof)


def test_sizes_beyond_the_tree_are_refused() -> None:
    tree, _ = grown(5)
    assert MerkleTree().root() == EMPTY_ROOT
    with pytest.raises(MerkleError):
        tree.root(6)
    with pytest.raises(MerkleError):
        tree.inclusion_proof(5, 5)
    with pytest.raises(MerkleError):
        tree.consistency_proof(6, 5)
    with pytest.raises(MerkleError):
        tree.append(b"short")
