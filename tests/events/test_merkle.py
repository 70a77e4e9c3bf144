"""RFC 9162 Merkle tree: published vectors, and properties against the RFC's own definitions.

The fixed vectors are the Certificate Transparency reference ones (RFC 6962 and RFC
9162 hash trees identically), as published in github.com/transparency-dev/merkle:
``testonly/constants.go`` (leaf inputs, node and root hashes) and
``proof/verify_test.go`` (inclusion and consistency proofs). Matching them is what
lets an outside verifier check our checkpoints with its own tools.

The properties compare the module with a reference written straight from the RFC's
recursive definitions (MTH, PATH, SUBPROOF), which is slow but easy to read against
the text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    MerkleError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# --- reference implementation, from the RFC's recursive definitions ------------------


def _ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _ref_k(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes (RFC 9162 §2.1.1, with the leaf hashing already done)."""
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return d[0]
    k = _ref_k(n)
    return _ref_node(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) (RFC 9162 §2.1.3.1)."""
    n = len(d)
    if n == 1:
        return []
    k = _ref_k(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) (RFC 9162 §2.1.4.1), for 0 < m <= n."""

    def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if b else [ref_mth(d)]
        k = _ref_k(n)
        if m <= k:
            return [*subproof(m, d[:k], b), ref_mth(d[k:])]
        return [*subproof(m - k, d[k:], False), ref_mth(d[:k])]

    return subproof(m, d, True)


def path_shape(m: int, n: int) -> list[bool]:
    """Which side each element of PATH(m, D[n]) joins on (True: the left), leaf end first."""
    if n == 1:
        return []
    k = _ref_k(n)
    if m < k:
        return [*path_shape(m, k), False]
    return [*path_shape(m - k, n - k), True]


def proof_shape(m: int, n: int) -> tuple[bool, list[bool]]:
    """Whether PROOF(m, D[n]) leaves out the old root, and which side each later element
    joins on (True: the left, into both roots; False: the right, into the new root only)."""

    def subproof(m: int, n: int, b: bool) -> tuple[bool, list[bool]]:
        if m == n:
            return b, []
        k = _ref_k(n)
        if m <= k:
            omitted, sides = subproof(m, k, b)
            return omitted, [*sides, False]
        omitted, sides = subproof(m - k, n - k, False)
        return omitted, [*sides, True]

    return subproof(m, n, True)


# --- the Certificate Transparency vectors -------------------------------------------

CT_ENTRIES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_LEAVES = [leaf_hash(e) for e in CT_ENTRIES]

# testonly.NodeHashes()[0]: the leaf hashes of CT_ENTRIES.
CT_LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]

# testonly.RootHashes(): the root of the first n entries, n = 0..8.
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# proof/verify_test.go inclusionProofs, whose leaf numbers count from 1: (index, size, path).
CT_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# proof/verify_test.go consistencyProofs: (old size, new size, proof).
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def _ct_root(size: int) -> bytes:
    return bytes.fromhex(CT_ROOTS[size])


def test_hash_primitives_match_ct() -> None:
    assert _ct_root(0) == EMPTY_ROOT
    assert [leaf_hash(e).hex() for e in CT_ENTRIES] == CT_LEAF_HASHES
    # testonly.NodeHashes()[1][0]: the interior node over the first two leaves.
    assert node_hash(CT_LEAVES[0], CT_LEAVES[1]) == _ct_root(2)


@pytest.mark.parametrize("size", range(9))
def test_root_matches_ct(size: int) -> None:
    assert root(CT_LEAVES[:size]) == _ct_root(size)


def test_accumulator_matches_ct() -> None:
    acc = MerkleAccumulator()
    assert (acc.size, acc.root()) == (0, _ct_root(0))
    for size, leaf in enumerate(CT_LEAVES, start=1):
        acc.append(leaf)
        assert (acc.size, acc.root()) == (size, _ct_root(size))


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_inclusion_matches_ct(index: int, size: int, path: list[str]) -> None:
    proof = inclusion_proof(CT_LEAVES[:size], index)
    assert [p.hex() for p in proof] == path
    assert verify_inclusion(CT_LEAVES[index], index, size, proof, _ct_root(size))


@pytest.mark.parametrize(("old_size", "new_size", "path"), CT_CONSISTENCY)
def test_consistency_matches_ct(old_size: int, new_size: int, path: list[str]) -> None:
    proof = consistency_proof(CT_LEAVES[:new_size], old_size)
    assert [p.hex() for p in proof] == path
    assert verify_consistency(old_size, new_size, _ct_root(old_size), _ct_root(new_size), proof)


# --- edges and argument checking -----------------------------------------------------


def test_bad_arguments_raise_merkle_error() -> None:
    leaves = CT_LEAVES[:5]
    for index in (-1, 5):
        with pytest.raises(MerkleError, match=f"leaf index {index} is outside a tree of 5"):
            inclusion_proof(leaves, index)
    with pytest.raises(MerkleError):
        inclusion_proof([], 0)
    for old_size in (-1, 6):
        with pytest.raises(MerkleError, match=f"old tree size {old_size} is outside 0..5"):
            consistency_proof(leaves, old_size)
    with pytest.raises(MerkleError, match="a leaf hash is 32 bytes, not 3"):
        MerkleAccumulator().append(b"abc")
    assert issubclass(MerkleError, ValueError)


def test_consistency_with_nothing_to_prove() -> None:
    leaves = CT_LEAVES[:5]
    assert consistency_proof(leaves, 0) == []
    assert consistency_proof(leaves, 5) == []
    assert consistency_proof([], 0) == []
    r5 = _ct_root(5)
    assert verify_consistency(0, 5, EMPTY_ROOT, r5, [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(5, 5, r5, r5, [])
    # An empty tree has one root, and an unchanged tree keeps its root.
    assert not verify_consistency(0, 5, r5, r5, [])
    assert not verify_consistency(0, 0, r5, r5, [])
    assert not verify_consistency(5, 5, r5, _ct_root(4), [])
    # An empty proof proves nothing when there is something to prove, and a
    # non-empty one is malformed when there is not.
    assert not verify_consistency(4, 5, _ct_root(4), r5, [])
    assert not verify_consistency(5, 5, r5, r5, [r5])
    assert not verify_consistency(0, 5, EMPTY_ROOT, r5, [r5])


def test_malformed_input_to_verifiers_is_false_not_an_error() -> None:
    leaf, r = CT_LEAVES[5], _ct_root(8)
    proof = inclusion_proof(CT_LEAVES, 5)
    assert verify_inclusion(leaf, 5, 8, proof, r)
    assert not verify_inclusion(leaf, 5, 8, [*proof[:2], proof[2][:31]], r)
    assert not verify_inclusion(leaf, 5, 8, [*proof, b""], r)
    assert not verify_inclusion(leaf[:31], 5, 8, proof, r)
    assert not verify_inclusion(leaf, 5, 8, proof, r + b"\x00")
    for index, size in ((-1, 8), (8, 8), (0, 0), (0, -1), (5, 4)):
        assert not verify_inclusion(leaf, index, size, proof, r)

    cproof = consistency_proof(CT_LEAVES, 6)
    r6 = _ct_root(6)
    assert verify_consistency(6, 8, r6, r, cproof)
    assert not verify_consistency(6, 8, r6, r, [*cproof[:2], cproof[2] + b"\x00"])
    assert not verify_consistency(6, 8, r6[:16], r, cproof)
    assert not verify_consistency(6, 8, r6, b"", cproof)
    for old_size, new_size in ((-1, 8), (8, 6), (6, 5), (9, 8)):
        assert not verify_consistency(old_size, new_size, r6, r, cproof)


# --- properties ----------------------------------------------------------------------

MAX_SIZE = 200
# Distinct leaves, so that no two subtrees share a root by accident: the tamper
# properties below rely on a changed computation giving a changed hash.
LEAVES = [leaf_hash(b"event %d" % i) for i in range(MAX_SIZE + 64)]
OTHER_HASH = hashlib.sha256(b"not in the tree").digest()


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX_SIZE))
    return size, draw(st.integers(0, size - 1))


@st.composite
def old_and_new_size(draw: st.DrawFn) -> tuple[int, int]:
    new_size = draw(st.integers(1, MAX_SIZE))
    return draw(st.integers(1, new_size)), new_size


def _tampered(proof: list[bytes], data: st.DataObject) -> list[list[bytes]]:
    """One byte flipped, one element dropped, one element added: each must fail."""
    out: list[list[bytes]] = []
    at = data.draw(st.integers(0, len(proof)))
    filler = data.draw(st.sampled_from([OTHER_HASH, LEAVES[0], *proof]))
    out.append([*proof[:at], filler, *proof[at:]])
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        byte = data.draw(st.integers(0, 31))
        mask = data.draw(st.integers(1, 255))
        flipped = bytearray(proof[i])
        flipped[byte] ^= mask
        out.append([*proof[:i], bytes(flipped), *proof[i + 1 :]])
        out.append([*proof[:i], *proof[i + 1 :]])
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=70))
def test_root_is_the_rfc_mth(leaves: list[bytes]) -> None:
    assert root(leaves) == ref_mth(leaves)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, MAX_SIZE))
def test_accumulator_root_equals_root_at_every_size(size: int) -> None:
    acc = MerkleAccumulator()
    assert acc.root() == root([])
    for n in range(1, size + 1):
        acc.append(LEAVES[n - 1])
        assert acc.size == n
        assert acc.root() == root(LEAVES[:n])


@pytest.mark.parametrize("size", [4095, 4096, 4097, 8192 + 3, 3 * 4096 + 5])
def test_large_trees_match_the_reference(size: int) -> None:
    # Past 4096 leaves subtree roots are built block by block; the join must not show.
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    acc = MerkleAccumulator()
    for leaf in leaves:
        acc.append(leaf)
    assert root(leaves) == ref_mth(leaves) == acc.root()
    for index in sorted({0, 4095, size - 1} & set(range(size))):
        proof = inclusion_proof(leaves, index)
        assert proof == ref_path(index, leaves)
        assert verify_inclusion(leaves[index], index, size, proof, acc.root())
    for old_size in sorted({1, 4095, 4096, size - 1} & set(range(size))):
        proof = consistency_proof(leaves, old_size)
        assert proof == ref_proof(old_size, leaves)
        assert verify_consistency(old_size, size, root(leaves[:old_size]), acc.root(), proof)


@settings(max_examples=200, deadline=None)
@given(tree_and_index(), st.data())
def test_inclusion_proofs_verify_and_tampering_fails(
    tree: tuple[int, int], data: st.DataObject
) -> None:
    size, index = tree
    leaves = LEAVES[:size]
    r = root(leaves)
    proof = inclusion_proof(leaves, index)
    assert proof == ref_path(index, leaves)
    assert verify_inclusion(leaves[index], index, size, proof, r)

    for bad in _tampered(proof, data):
        assert not verify_inclusion(leaves[index], index, size, bad, r)
    assert not verify_inclusion(OTHER_HASH, index, size, proof, r)
    assert not verify_inclusion(leaves[index], index, size, proof, OTHER_HASH)
    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index))
        assert not verify_inclusion(leaves[index], other, size, proof, r)
        assert not verify_inclusion(leaves[other], index, size, proof, r)
        assert not verify_inclusion(leaves[index], index, size, proof, root(leaves[:-1]))


@settings(max_examples=200, deadline=None)
@given(tree_and_index(), st.integers(0, MAX_SIZE + 60))
def test_inclusion_against_a_wrong_size_holds_only_for_the_same_path(
    tree: tuple[int, int], claimed_size: int
) -> None:
    # The root does not commit to the tree size: a proof checks against another
    # size exactly when that size puts the leaf on a path of the same shape (for
    # example leaf 0 of 3 and of 4). That is why a checkpoint signs size and root
    # together; what must never happen is a different shape verifying.
    size, index = tree
    leaves = LEAVES[:size]
    proof = inclusion_proof(leaves, index)
    expected = index < claimed_size and path_shape(index, claimed_size) == path_shape(index, size)
    assert verify_inclusion(leaves[index], index, claimed_size, proof, root(leaves)) == expected


@settings(max_examples=200, deadline=None)
@given(old_and_new_size(), st.data())
def test_consistency_proofs_verify_and_tampering_fails(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    old_size, new_size = sizes
    leaves = LEAVES[:new_size]
    old_root, new_root = root(leaves[:old_size]), root(leaves)
    proof = consistency_proof(leaves, old_size)
    assert proof == ref_proof(old_size, leaves)
    assert verify_consistency(old_size, new_size, old_root, new_root, proof)
    if old_size == new_size:
        return

    for bad in _tampered(proof, data):
        assert not verify_consistency(old_size, new_size, old_root, new_root, bad)
    assert not verify_consistency(old_size, new_size, new_root, old_root, proof)
    assert not verify_consistency(old_size, new_size, OTHER_HASH, new_root, proof)
    assert not verify_consistency(old_size, new_size, old_root, OTHER_HASH, proof)
    # A log that rewrote history: same sizes, one old leaf changed.
    forked = [*leaves]
    forked[data.draw(st.integers(0, old_size - 1))] = OTHER_HASH
    assert not verify_consistency(old_size, new_size, old_root, root(forked), proof)
    forked_proof = consistency_proof(forked, old_size)
    assert not verify_consistency(old_size, new_size, old_root, root(forked), forked_proof)


@settings(max_examples=200, deadline=None)
@given(old_and_new_size(), st.integers(-1, MAX_SIZE + 60), st.integers(-1, MAX_SIZE + 60))
def test_consistency_against_wrong_sizes_holds_only_for_the_same_proof_shape(
    sizes: tuple[int, int], claimed_old: int, claimed_new: int
) -> None:
    # As with inclusion, the roots do not commit to the sizes; a proof checks
    # against other sizes exactly when they give the proof the same shape.
    old_size, new_size = sizes
    leaves = LEAVES[:new_size]
    old_root, new_root = root(leaves[:old_size]), root(leaves)
    proof = consistency_proof(leaves, old_size)
    if old_size == new_size:
        expected = claimed_old == claimed_new and claimed_old > 0
    else:
        expected = 0 < claimed_old < claimed_new and proof_shape(
            claimed_old, claimed_new
        ) == proof_shape(old_size, new_size)
    assert verify_consistency(claimed_old, claimed_new, old_root, new_root, proof) == expected
