"""RDM comparison statistics on condensed vectors.

An RDM is a square ``(N, N)`` float array, symmetric with a zero diagonal; its condensed form
is the strict upper triangle in row-major order, a vector of ``M = N (N - 1) / 2`` pairs (see
:mod:`brainalign.rsa.condensed`, which validates and converts both forms).

Methods (the names used everywhere in the project):

``"tau_b"``
    Kendall's tau-b (ties corrected in the denominator), identical to
    :func:`scipy.stats.kendalltau` -- the statistic of the original study.
``"tau_a"``
    Kendall's tau-a, ``S / (M (M - 1) / 2)``, identical to rsatoolbox's ``tau-a``.
``"spearman"``
    Spearman's rho (Pearson correlation of average ranks).
``"pearson"``
    Pearson's r.

Kendall's ``S = concordant - discordant`` is computed exactly in integers with the same
kernel that the Mantel test uses (see :mod:`brainalign.rsa._kernels`), so observed and permuted
statistics are computed identically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from brainalign.rsa import _kernels
from brainalign.rsa.condensed import (
    as_condensed,
    condensed_index_pairs,
    n_conditions_from_pairs,
    vector_to_rdm,
)

__all__ = ["METHODS", "compare_rdms", "compare_rdms_many", "check_method"]

METHODS: tuple[str, ...] = ("tau_b", "tau_a", "spearman", "pearson")


def check_method(method: str, allowed: tuple[str, ...] = METHODS) -> str:
    """Return ``method`` if it is one of ``allowed``, else raise ``ValueError`` naming it."""
    if not isinstance(method, str) or method not in allowed:
        raise ValueError(
            f"unknown method {method!r}; expected one of {', '.join(repr(m) for m in allowed)}"
        )
    return method


# --------------------------------------------------------------------------------------
# Preparation of the integer tables used by the kernels
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KendallFixed:
    """Fixed (sorted) side of a Kendall computation.

    Attributes
    ----------
    ii, jj : (M,) uint16
        Pair row/column in ascending order of the values (stable).
    starts : (G + 1,) int64
        Tie-group boundaries in that order.
    fstart, fend : (F,) int64
        Boundaries of the tie groups of size > 1.
    ties : int
        Number of tied pairs of pairs, ``sum c (c - 1) / 2`` over tie groups.
    """

    ii: NDArray[np.uint16]
    jj: NDArray[np.uint16]
    starts: NDArray[np.int64]
    fstart: NDArray[np.int64]
    fend: NDArray[np.int64]
    ties: int


@dataclass(frozen=True)
class KendallPermuted:
    """Permuted side of a Kendall computation: 1-based tie-broken rank table.

    Attributes
    ----------
    table : (N * N,) uint16 or uint32
        Flattened symmetric table of tie-broken ranks ``1..M`` (diagonal 0).
    lo, hi : (M + 1,) uint32
        First / last tie-broken rank of the tie group of each rank (index 0 unused).
    vlo, vhi : (V,) int64
        First / last rank of the tie groups of size > 1.
    ties : int
        Number of tied pairs of pairs.
    """

    table: NDArray[np.unsignedinteger]
    lo: NDArray[np.uint32]
    hi: NDArray[np.uint32]
    vlo: NDArray[np.int64]
    vhi: NDArray[np.int64]
    ties: int


def _groups(sorted_values: NDArray[np.float64]) -> tuple[NDArray[np.int64], int]:
    m = sorted_values.size
    new = np.empty(m, dtype=bool)
    new[0] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=new[1:])
    starts = np.append(np.flatnonzero(new), m).astype(np.int64)
    sizes = np.diff(starts)
    return starts, int((sizes * (sizes - 1) // 2).sum())


def _pair_indices(n: int) -> tuple[NDArray[np.uint16], NDArray[np.uint16]]:
    if n > np.iinfo(np.uint16).max:
        raise ValueError(f"RDMs with more than 65535 items are not supported, got N = {n}")
    iu, ju = condensed_index_pairs(n)
    return iu.astype(np.uint16), ju.astype(np.uint16)


def kendall_fixed(v: NDArray[np.float64], n: int) -> KendallFixed:
    """Prepare condensed vector ``v`` (of an ``n``-item RDM) as the fixed side."""
    order = np.argsort(v, kind="stable")
    iu, ju = _pair_indices(n)
    starts, ties = _groups(v[order])
    big = np.flatnonzero(np.diff(starts) > 1)
    return KendallFixed(
        np.ascontiguousarray(iu[order]),
        np.ascontiguousarray(ju[order]),
        starts,
        starts[big],
        starts[big + 1],
        ties,
    )


def kendall_permuted(v: NDArray[np.float64], n: int) -> KendallPermuted:
    """Prepare condensed vector ``v`` (of an ``n``-item RDM) as the permuted side."""
    m = v.size
    order = np.argsort(v, kind="stable")
    rank = np.empty(m, dtype=np.int64)
    rank[order] = np.arange(1, m + 1)
    starts, ties = _groups(v[order])
    sizes = np.diff(starts)
    lo = np.zeros(m + 1, dtype=np.uint32)
    hi = np.zeros(m + 1, dtype=np.uint32)
    lo[1:] = np.repeat(starts[:-1] + 1, sizes)
    hi[1:] = np.repeat(starts[1:], sizes)
    big = np.flatnonzero(sizes > 1)
    dtype = np.uint16 if m < np.iinfo(np.uint16).max else np.uint32
    table = vector_to_rdm(rank, dtype=dtype)
    return KendallPermuted(table.ravel(), lo, hi, starts[big] + 1, starts[big + 1], ties)


def kendall_mode(m: int, fixed: KendallFixed, perm: KendallPermuted) -> int:
    """Kernel mode for a fixed/permuted pair (see :mod:`brainalign.rsa._kernels`)."""
    if m > _kernels.MAX_PAIRS_FAST:
        return _kernels.MODE_FENWICK
    if fixed.ties == 0 and perm.ties == 0:
        return _kernels.MODE_FAST
    # the exact tie correction costs O(sum c^2); beyond ~M it is cheaper to count grouped
    if fixed.ties + perm.ties <= m:
        return _kernels.MODE_CORRECTED
    return _kernels.MODE_GROUPED


def kendall_s(
    fixed: KendallFixed,
    perms: list[KendallPermuted],
    permutations: NDArray[np.int64],
    invert: bool,
    force_mode: int | None = None,
) -> NDArray[np.int64]:
    """Kendall S of the fixed side against each permuted side under each permutation.

    Parameters
    ----------
    fixed, perms
        Prepared sides (:func:`kendall_fixed`, :func:`kendall_permuted`).
    permutations : (P, N) int64
    invert : bool
        Gather the permuted sides through the inverse permutations.
    force_mode : int, optional
        Kernel mode to use instead of :func:`kendall_mode`'s choice (for testing; every mode
        is exact, ``MODE_FAST`` only without ties and the bitset modes only for
        ``M <= MAX_PAIRS_FAST``).

    Returns
    -------
    (len(perms), P) int64
    """
    m = fixed.ii.size
    vlo = np.concatenate([p.vlo for p in perms])
    vhi = np.concatenate([p.vhi for p in perms])
    vptr = np.concatenate([[0], np.cumsum([p.vlo.size for p in perms])]).astype(np.int64)
    modes = np.array(
        [kendall_mode(m, fixed, p) if force_mode is None else force_mode for p in perms],
        dtype=np.int64,
    )
    dtype = np.result_type(*[p.table.dtype for p in perms])
    return _kernels.kendall_s_many(
        permutations,
        fixed.ii,
        fixed.jj,
        fixed.starts,
        fixed.fstart,
        fixed.fend,
        np.stack([p.table.astype(dtype, copy=False) for p in perms]),
        np.stack([p.lo for p in perms]),
        np.stack([p.hi for p in perms]),
        vlo,
        vhi,
        vptr,
        modes,
        invert,
    )


def average_ranks_x2(v: NDArray[np.float64]) -> NDArray[np.int64]:
    """Twice the average (mid) ranks of ``v`` (1-based), as exact integers."""
    m = v.size
    order = np.argsort(v, kind="stable")
    starts, _ = _groups(v[order])
    sizes = np.diff(starts)
    # average rank of a group occupying sorted positions a..b-1 (0-based) = (a + b + 1) / 2
    twice = np.repeat(starts[:-1] + starts[1:] + 1, sizes)
    out = np.empty(m, dtype=np.int64)
    out[order] = twice
    return out


def centred_spearman(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """Centred doubled ranks ``2 * rank - (M + 1)``: integers held exactly in float64.

    Their dot products are sums of integer products below 2**53, hence exact in any order.
    """
    return (average_ranks_x2(v) - (v.size + 1)).astype(np.float64)


def centred_pearson(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """Mean-centred values."""
    return v - v.mean()


def kendall_tau_from_s(s: NDArray[np.int64] | int, m: int, ties_a: int, ties_b: int, method: str):
    """Convert Kendall ``S`` to tau-a or tau-b (scipy's arithmetic for tau-b)."""
    tot = m * (m - 1) // 2
    s = np.asarray(s, dtype=np.float64)
    if tot - ties_a == 0 or tot - ties_b == 0:
        return np.full(s.shape, np.nan)
    if method == "tau_a":
        tau = s / tot
    else:
        tau = s / np.sqrt(float(tot - ties_a)) / np.sqrt(float(tot - ties_b))
    return np.clip(tau, -1.0, 1.0)


def _kendall_s(a: NDArray[np.float64], b: NDArray[np.float64]) -> tuple[int, int, int]:
    n = n_conditions_from_pairs(a.size)
    fixed = kendall_fixed(a, n)
    perm = kendall_permuted(b, n)
    s = kendall_s(fixed, [perm], np.arange(n, dtype=np.int64)[None, :], False)
    return int(s[0, 0]), fixed.ties, perm.ties


def _corr_from_centred(a, b) -> float:
    saa = float(np.dot(a, a))
    sbb = float(np.dot(b, b))
    if saa == 0.0 or sbb == 0.0:
        return float("nan")
    r = float(np.dot(a, b)) / math.sqrt(saa * sbb)
    return min(1.0, max(-1.0, r))


def compare_rdms(a: ArrayLike, b: ArrayLike, method: str = "tau_b") -> float:
    """Compare two RDMs.

    Parameters
    ----------
    a, b : (N, N) or (M,) array_like
        Square RDMs or condensed vectors of equal length ``M``.
    method : {"tau_b", "tau_a", "spearman", "pearson"}

    Returns
    -------
    float
        The statistic; ``nan`` if either vector is constant.

    Raises
    ------
    ValueError
        For an unknown method, invalid RDMs or vectors of different length.
    """
    check_method(method)
    va = as_condensed(a, "a")
    vb = as_condensed(b, "b")
    if va.size != vb.size:
        raise ValueError(f"a and b differ in length: {va.size} vs {vb.size} pairs")
    if method in ("tau_b", "tau_a"):
        s, ta, tb = _kendall_s(va, vb)
        return float(kendall_tau_from_s(s, va.size, ta, tb, method))
    if method == "spearman":
        return _corr_from_centred(centred_spearman(va), centred_spearman(vb))
    return _corr_from_centred(centred_pearson(va), centred_pearson(vb))


def compare_rdms_many(xs: ArrayLike, ys: ArrayLike, method: str = "tau_b") -> NDArray[np.float64]:
    """Compare every RDM of one set with every RDM of another.

    Each RDM is prepared once (sorted and ranked for Kendall's tau, centred for the
    correlations), so ``A x B`` comparisons cost ``A + B`` preparations and ``A x B`` kernel
    passes instead of ``2 A B`` preparations.

    Parameters
    ----------
    xs : (A, M) or (A, N, N) array_like
    ys : (B, M) or (B, N, N) array_like
        Condensed vectors or square RDMs; every RDM of both sets has the same ``M`` pairs.
    method : {"tau_b", "tau_a", "spearman", "pearson"}

    Returns
    -------
    (A, B) float64
        Element ``[a, b]`` equals ``compare_rdms(xs[a], ys[b], method)`` (``nan`` where either
        is constant): exactly for Kendall's tau and Spearman's rho (integer arithmetic), to
        rounding for Pearson's r (one matrix product).
    """
    check_method(method)
    vx = [as_condensed(x, f"xs[{k}]") for k, x in enumerate(rdm_list(xs, "xs"))]
    vy = [as_condensed(y, f"ys[{k}]") for k, y in enumerate(rdm_list(ys, "ys"))]
    sizes = {v.size for v in vx + vy}
    if len(sizes) != 1:
        raise ValueError(f"xs and ys must hold RDMs of one size; got {sorted(sizes)} pairs")
    m = sizes.pop()
    out = np.empty((len(vx), len(vy)))
    if method in ("tau_b", "tau_a"):
        n = n_conditions_from_pairs(m)
        identity = np.arange(n, dtype=np.int64)[None, :]
        preps = [kendall_permuted(v, n) for v in vy]
        for a, v in enumerate(vx):
            fixed = kendall_fixed(v, n)
            s = kendall_s(fixed, preps, identity, False)[:, 0]
            for b, p in enumerate(preps):
                out[a, b] = kendall_tau_from_s(s[b], m, fixed.ties, p.ties, method)
        return out
    centre = centred_spearman if method == "spearman" else centred_pearson
    cx, cy = np.stack([centre(v) for v in vx]), np.stack([centre(v) for v in vy])
    nx, ny = np.einsum("ij,ij->i", cx, cx), np.einsum("ij,ij->i", cy, cy)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (cx @ cy.T) / np.sqrt(np.outer(nx, ny))
    r[(nx == 0)[:, None] | (ny == 0)[None, :]] = np.nan
    return np.clip(r, -1.0, 1.0)


def rdm_list(rdms: ArrayLike, name: str) -> list:
    """The RDMs of a stack ``(S, M)`` / ``(S, N, N)`` or of a sequence, as a non-empty list
    (each still to be validated, e.g. by :func:`brainalign.rsa.condensed.as_condensed`)."""
    if isinstance(rdms, np.ndarray) and rdms.ndim not in (2, 3):
        raise ValueError(f"{name} must be (S, N, N) or (S, M), got shape {rdms.shape}")
    out = list(rdms)
    if not out:
        raise ValueError(f"{name} is empty: need at least one RDM")
    return out
