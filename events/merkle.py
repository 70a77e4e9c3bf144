"""Merkle tree over the event log (RFC 9162 §2.1, the Certificate Transparency v2 tree).

The hash chain lets anyone who holds the whole log check it; a Merkle tree lets
someone who holds only a signed checkpoint — a tree size and a root — check
claims about the log without downloading it:

- a signed checkpoint commits to every event up to its size, because the root
  changes if any of them does;
- an inclusion proof (``log2 n`` hashes) shows that a given event sits at a given
  position under a checkpoint's root, so a record handed to a third party can be
  shown to be the one in the log;
- a consistency proof shows that a later checkpoint's tree extends an earlier
  one's: the log only grew, and nothing already checkpointed was rewritten.

The tree's entries are the 32-byte event hashes in global order (entry ``i`` is
the hash of the event at global position ``i + 1``). Hashing follows RFC 9162
exactly so that off-the-shelf CT and transparency-log verifiers agree with us:
SHA-256, a leaf is ``SHA-256(0x00 ‖ entry)``, an interior node is
``SHA-256(0x01 ‖ left ‖ right)``. The prefixes keep a leaf from passing as an
interior node, which would otherwise let a proof be forged for a value that was
never appended. The empty tree's root is ``SHA-256("")``.

``root``, ``inclusion_proof`` and ``consistency_proof`` take the leaf hashes
(already passed through ``leaf_hash``), in order. They never recurse: a proof is
a list of subtree roots over disjoint ranges of leaves, so building one costs a
single pass over the tree, O(n), which is well under a second for a million
events. The two ``verify_*`` functions are the RFC's algorithms step by step and
return False, never raise, for anything that does not verify, since what they
check comes from outside.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
# Subtree roots are built a level at a time over blocks of this many leaves
# (a perfect subtree) and the block roots merged on a stack: list comprehensions
# over a level hash about twice as fast as a per-leaf Python loop, and the stack
# keeps memory at one block plus a hash per level instead of half the tree.
_BLOCK = 1 << 12

_sha256 = hashlib.sha256


class MerkleError(ValueError):
    """A tree operation was asked for something the tree cannot give (a bad index or size)."""


def leaf_hash(entry: bytes) -> bytes:
    return _sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(_NODE_PREFIX + left + right).digest()


EMPTY_ROOT = _sha256(b"").digest()


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes: the root a checkpoint of ``len(leaves)`` events signs."""
    if not leaves:
        return EMPTY_ROOT
    return _subtree_root(leaves, 0, len(leaves))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) (RFC 9162 §2.1.3.1): the audit path of leaf ``index``, leaf end first."""
    size = len(leaves)
    if not 0 <= index < size:
        raise MerkleError(f"leaf index {index} is outside a tree of {size} leaves")
    # PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) for m < k, and
    # PATH(m - k, D[k:n]) : MTH(D[0:k]) otherwise. Walking down from the root
    # finds the siblings top first; the proof lists them from the leaf up.
    siblings: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo += k
    return [_subtree_root(leaves, a, b) for a, b in reversed(siblings)]


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree of ``tree_size``
    leaves with root ``root`` (RFC 9162 §2.1.3.2)."""
    if not (_is_hash(leaf) and _is_hash(root) and all(_is_hash(p) for p in proof)):
        return False
    if index < 0 or index >= tree_size:
        return False
    fn, sn = index, tree_size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # A right edge with no sibling at the levels below was carried up
            # unchanged; skip them, as the proof has no element for them.
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) (RFC 9162 §2.1.4.1): shows the tree of ``old_size`` leaves is a
    prefix of this one. Empty when there is nothing to prove (``old_size`` 0 or ``n``)."""
    size = len(leaves)
    if not 0 <= old_size <= size:
        raise MerkleError(f"old tree size {old_size} is outside 0..{size}, the new tree's size")
    if old_size in (0, size):
        return []
    # SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])          if m <= k
    #                      = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])  if m > k
    # ending at m == n with {} when b (the verifier already holds the old root)
    # or {MTH(D[m])} otherwise. Relative to the whole tree the old tree always
    # ends at old_size, so the descent only has to track the current range.
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    whole_old_tree = True
    while hi != old_size:
        k = _split(hi - lo)
        if old_size - lo <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            whole_old_tree = False
    if not whole_old_tree:
        ranges.append((lo, hi))
    return [_subtree_root(leaves, a, b) for a, b in reversed(ranges)]


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree (``new_size``, ``new_root``) extends the tree
    (``old_size``, ``old_root``) (RFC 9162 §2.1.4.2)."""
    if not (_is_hash(old_root) and _is_hash(new_root) and all(_is_hash(p) for p in proof)):
        return False
    if old_size < 0 or new_size < old_size:
        return False
    # The RFC defines proofs for 0 < old_size < new_size only. At the edges the
    # proof is empty (RFC 6962 §2.1.2) and the roots must say so themselves.
    if old_size == new_size:
        return not proof and old_root == new_root and (old_size > 0 or old_root == EMPTY_ROOT)
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # A power-of-two old tree is a complete subtree of the new one, so the
        # prover leaves out the root the verifier already holds.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


class MerkleAccumulator:
    """The root of a growing tree, kept in O(log n) memory.

    Holds the roots of the perfect subtrees that the binary digits of the size
    split the tree into, largest (leftmost) first. Appending a leaf merges equal
    sized subtrees like a binary carry; the root folds them from the right, which
    is how MTH splits a tree whose size is not a power of two.
    """

    __slots__ = ("_peaks", "_size")

    def __init__(self) -> None:
        self._peaks: list[bytes] = []
        self._size = 0

    def append(self, leaf: bytes) -> None:
        """Adds one leaf hash (``leaf_hash(entry)``, not the entry) as the tree's next leaf."""
        # Every later root depends on this value; a wrong-sized one is a caller
        # passing an entry or a hex string, caught here rather than at a verifier.
        if not _is_hash(leaf):
            raise MerkleError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf)}")
        h = leaf
        carry = self._size
        while carry & 1:
            h = node_hash(self._peaks.pop(), h)
            carry >>= 1
        self._peaks.append(h)
        self._size += 1

    @property
    def size(self) -> int:
        return self._size

    def root(self) -> bytes:
        """Equals ``root()`` of all the leaves appended so far."""
        if not self._peaks:
            return EMPTY_ROOT
        h = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            h = node_hash(peak, h)
        return h


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2): where MTH splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_hash(value: bytes) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _subtree_root(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) for lo < hi."""
    if hi - lo <= _BLOCK:
        return _level_root(leaves[lo:hi])
    # Whole blocks are perfect subtrees, so their roots merge on a stack exactly
    # as leaves do in MerkleAccumulator; the tail, folded in last, is the
    # rightmost part of the tree, which is where MTH puts it.
    peaks: list[bytes] = []
    blocks = 0
    start = lo
    while hi - start >= _BLOCK:
        h = _level_root(leaves[start : start + _BLOCK])
        carry = blocks
        while carry & 1:
            h = node_hash(peaks.pop(), h)
            carry >>= 1
        peaks.append(h)
        blocks += 1
        start += _BLOCK
    if start < hi:
        peaks.append(_level_root(leaves[start:hi]))
    h = peaks.pop()
    while peaks:
        h = node_hash(peaks.pop(), h)
    return h


def _level_root(leaves: Sequence[bytes]) -> bytes:
    """MTH of a non-empty run of leaves, one level at a time.

    Pairing neighbours and carrying an odd last node up unchanged builds the
    same tree as MTH's largest-power-of-two split: both make perfect subtrees
    aligned from the left and attach the ragged right edge as high as it goes.
    """
    level = list(leaves)
    prefix = _NODE_PREFIX
    sha256 = _sha256
    while len(level) > 1:
        odd = level[-1] if len(level) & 1 else None
        level = [
            sha256(prefix + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=False)
        ]
        if odd is not None:
            level.append(odd)
    return level[0]


class MerkleTree:
    """A growing tree that gives the root and proofs of any of its sizes in O(log n).

    For an auditor who checks thousands of checkpoints in one pass over the log,
    where rebuilding each proof from the leaves would cost O(n) a checkpoint.
    Keeps every level: ``levels[k][i]`` is the root of the perfect subtree over
    leaves ``i * 2**k`` to ``(i + 1) * 2**k - 1``. MTH splits a tree at the largest
    power of two below its size, so every subtree a root or proof needs is one of
    those perfect subtrees or a ragged right edge made of O(log n) of them. The
    price is memory: about two hashes per leaf.
    """

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, leaf: bytes) -> None:
        """Adds one leaf hash (``leaf_hash(entry)``) as the tree's next leaf."""
        if not _is_hash(leaf):
            raise MerkleError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf)}")
        levels = self._levels
        levels[0].append(leaf)
        k = 0
        while len(levels[k]) % 2 == 0:
            if k + 1 == len(levels):
                levels.append([])
            levels[k + 1].append(node_hash(levels[k][-2], levels[k][-1]))
            k += 1

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (all of them by default)."""
        size = self.size if size is None else size
        self._check_size(size, "tree size")
        return EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) as ``inclusion_proof`` gives it, in O(log n)."""
        size = self.size if size is None else size
        self._check_size(size, "tree size")
        if not 0 <= index < size:
            raise MerkleError(f"leaf index {index} is outside a tree of {size} leaves")
        proof: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                proof.append(self._subtree(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._subtree(lo, lo + k))
                lo += k
        proof.reverse()  # the RFC lists the path from the leaf up
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[new_size]) as ``consistency_proof`` gives it, in O(log n)."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size, "new tree size")
        if not 0 <= old_size <= new_size:
            raise MerkleError(f"old tree size {old_size} is outside 0..{new_size}")
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        lo, hi, m, whole = 0, new_size, old_size, True
        while True:
            n = hi - lo
            if m == n:
                if not whole:
                    proof.append(self._subtree(lo, hi))
                break
            k = _split(n)
            if m <= k:
                proof.append(self._subtree(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._subtree(lo, lo + k))
                lo, m, whole = lo + k, m - k, False
        proof.reverse()  # SUBPROOF appends its siblings after the deeper part
        return proof

    def _check_size(self, size: int, what: str) -> None:
        if not 0 <= size <= self.size:
            raise MerkleError(f"{what} {size} is outside 0..{self.size}, the tree's size")

    def _subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for a range an RFC recursion reaches: ``lo`` is a multiple of
        the smallest power of two at least ``hi - lo``, so the range is a perfect
        subtree followed, on the right, by a smaller such range."""
        n = hi - lo
        if n & (n - 1) == 0:  # a power of two, aligned: kept as it is
            k = n.bit_length() - 1
            return self._levels[k][lo >> k]
        k = _split(n)
        left = self._levels[k.bit_length() - 1][lo // k]
        return node_hash(left, self._subtree(lo + k, hi))
