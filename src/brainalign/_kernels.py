"""Numba kernels for exact permutation statistics on condensed RDMs.

Everything here works on pre-computed integer tables (see :mod:`brainalign.mantel` for the
preparation), so that one permutation costs one gather plus either an inversion count (Kendall)
or one dot product (Spearman, Pearson).

Kendall's S under permutation
-----------------------------
Permuting the items of an RDM only reorders its condensed entries, so the tie structure of
both vectors (and hence every tau denominator) is invariant; only the integer
``S = concordant - discordant`` changes.  The *fixed* side is sorted once (pair indices
``I, J`` in ascending order of its values, tie groups delimited by ``starts``).  The
*permuted* side is stored as an ``(n * n,)`` table ``T`` of 1-based tie-broken ranks together
with ``lo[t]``/``hi[t]``, the first and last tie-broken rank of the tie group of ``t``.  For a
permutation ``q`` the permuted ranks in fixed-side order are ``T[q[I[k]] * n + q[J[k]]]`` and

    S = sum_k  #{earlier groups: rank < lo}  -  #{earlier groups: rank > hi}

which is an inversion count.  The "earlier" set is kept in a bitset of ``nw`` 64-bit words
plus ``above[w]`` = number of set bits in words ``> w``, so that "how many inserted ranks are
greater than h" is one popcount plus one load, and an insertion adds 1 to a short prefix of
``above`` (vectorised).

All kernels are compiled with ``cache=True`` and are deterministic: every permutation's
result is computed by one thread in a fixed order, so any number of threads gives
bit-identical output.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "check_permutations",
    "kendall_s_many",
    "dot_many",
    "partial_dots",
]


@intrinsic
def _popcount(typingctx, x):
    """LLVM ``ctpop`` on a uint64 (compiles to one POPCNT instruction)."""
    if x != types.uint64:
        return None
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [ir.IntType(64)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.ctpop.i64")
        return builder.call(fn, args)

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def _count_greater(bits, above, h):
    """Number of inserted ranks strictly greater than ``h`` (``0 <= h``)."""
    w = h >> 6
    return np.int64(_popcount(bits[w] >> np.uint64(h & 63) >> np.uint64(1))) + above[w]


@njit(cache=True, nogil=True, inline="always")
def _insert(bits, above, t):
    w = t >> 6
    bits[w] |= np.uint64(1) << np.uint64(t & 63)
    for u in range(w):
        above[u] += 1


@njit(cache=True, nogil=True)
def _s_no_ties(tab, q, ii, jj, n, nw, m):
    """Kendall S when neither side has ties (fast path)."""
    bits = np.zeros(nw, dtype=np.uint64)
    above = np.zeros(nw, dtype=np.int32)
    greater = np.int64(0)
    for k in range(m):
        t = np.int64(tab[q[ii[k]] * n + q[jj[k]]])
        greater += _count_greater(bits, above, t)
        _insert(bits, above, t)
    return np.int64(m) * (m - 1) // 2 - 2 * greater


@njit(cache=True, nogil=True)
def _s_general(tab, lo, hi, q, ii, jj, starts, n, nw):
    """Kendall S with ties on either or both sides."""
    bits = np.zeros(nw, dtype=np.uint64)
    above = np.zeros(nw, dtype=np.int32)
    s = np.int64(0)
    inserted = np.int64(0)
    ngroups = starts.size - 1
    for g in range(ngroups):
        a = starts[g]
        b = starts[g + 1]
        for k in range(a, b):
            t = np.int64(tab[q[ii[k]] * n + q[jj[k]]])
            greater = _count_greater(bits, above, np.int64(hi[t]))
            # ranks >= lo  ==  ranks > lo - 1 ; rank 0 is never used (1-based ranks)
            less = inserted - _count_greater(bits, above, np.int64(lo[t]) - 1)
            s += less - greater
        for k in range(a, b):
            t = np.int64(tab[q[ii[k]] * n + q[jj[k]]])
            _insert(bits, above, t)
        inserted += b - a
    return s


@njit(cache=True, nogil=True, parallel=True)
def kendall_s_many(perms, ii, jj, starts, fixed_ties, tabs, los, his, perm_ties, invert):
    """Kendall S of one fixed RDM against ``S`` permuted RDMs, for every permutation.

    Parameters
    ----------
    perms : (P, n) int64
        Permutations.  With ``invert`` the rank tables are gathered through the inverse of
        each permutation (Mantel permutes the *fixed* side by ``p``: equivalent to permuting
        the other side by ``p^-1``).
    ii, jj : (m,) int32
        Row/column of the fixed side's condensed pairs, in ascending order of its values.
    starts : (g + 1,) int64
        Tie-group boundaries in that order.
    fixed_ties : bool
        Whether the fixed side has ties (``g < m``).
    tabs : (S, n * n) int32
        1-based tie-broken ranks of each permuted RDM, as flattened square tables.
    los, his : (S, m + 1) int32
        First / last tie-broken rank of the tie group of each rank.
    perm_ties : (S,) bool
        Whether each permuted RDM has ties.
    invert : bool
        Gather through ``p^-1`` instead of ``p``.

    Returns
    -------
    (S, P) int64
        ``S = concordant - discordant`` for each RDM and permutation.
    """
    npm, n = perms.shape
    nsub = tabs.shape[0]
    m = ii.shape[0]
    nw = (m + 1) // 64 + 1
    out = np.empty((nsub, npm), dtype=np.int64)
    for p in prange(npm):
        q = np.empty(n, dtype=np.int64)
        if invert:
            for a in range(n):
                q[perms[p, a]] = a
        else:
            for a in range(n):
                q[a] = perms[p, a]
        for s in range(nsub):
            if fixed_ties or perm_ties[s]:
                out[s, p] = _s_general(tabs[s], los[s], his[s], q, ii, jj, starts, n, nw)
            else:
                out[s, p] = _s_no_ties(tabs[s], q, ii, jj, n, nw, m)
    return out


@njit(cache=True, nogil=True, parallel=True)
def dot_many(perms, ii, jj, fixed, tabs, invert):
    """Dot products of a fixed condensed vector with permuted tables.

    Parameters
    ----------
    perms : (P, n) int64
    ii, jj : (m,) int32
        Condensed (row-major upper-triangle) pair indices.
    fixed : (m,) int64 or float64
        Centred values of the fixed side in condensed order.
    tabs : (S, n * n) int64 or float64
        Centred values of each permuted RDM as flattened square tables.
    invert : bool
        Gather through ``p^-1`` instead of ``p``.

    Returns
    -------
    (S, P) array of the dtype of ``fixed``
        ``sum_k fixed[k] * tab[q[ii[k]], q[jj[k]]]``, summed in k order.
    """
    npm, n = perms.shape
    nsub = tabs.shape[0]
    m = ii.shape[0]
    out = np.empty((nsub, npm), dtype=fixed.dtype)
    for p in prange(npm):
        q = np.empty(n, dtype=np.int64)
        if invert:
            for a in range(n):
                q[perms[p, a]] = a
        else:
            for a in range(n):
                q[a] = perms[p, a]
        for s in range(nsub):
            tab = tabs[s]
            acc = fixed[0] * 0
            for k in range(m):
                acc += fixed[k] * tab[q[ii[k]] * n + q[jj[k]]]
            out[s, p] = acc
    return out


@njit(cache=True, nogil=True, parallel=True)
def partial_dots(perms, ii, jj, tab, fy, fz):
    """Dot products of a permuted table with two fixed vectors (partial Mantel).

    Parameters
    ----------
    perms : (P, n) int64
    ii, jj : (m,) int32
    tab : (n * n,) int64 or float64
        Centred values of the permuted RDM (x) as a flattened square table.
    fy, fz : (m,) same dtype as ``tab``
        Centred values of the fixed RDMs (y, z) in condensed order.

    Returns
    -------
    dxy, dxz : (P,) arrays
    """
    npm, n = perms.shape
    m = ii.shape[0]
    dxy = np.empty(npm, dtype=fy.dtype)
    dxz = np.empty(npm, dtype=fy.dtype)
    for p in prange(npm):
        ay = fy[0] * 0
        az = fy[0] * 0
        for k in range(m):
            v = tab[perms[p, ii[k]] * n + perms[p, jj[k]]]
            ay += v * fy[k]
            az += v * fz[k]
        dxy[p] = ay
        dxz[p] = az
    return dxy, dxz


@njit(cache=True, nogil=True)
def check_permutations(perms):
    """Index of the first row of ``perms`` that is not a permutation of ``0..n-1``, or -1."""
    npm, n = perms.shape
    seen = np.zeros(n, dtype=np.int64)
    for p in range(npm):
        for a in range(n):
            v = perms[p, a]
            if v < 0 or v >= n or seen[v] == p + 1:
                return p
            seen[v] = p + 1
    return -1
