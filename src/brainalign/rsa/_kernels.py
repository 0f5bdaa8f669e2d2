"""Numba kernels for exact permutation statistics on condensed RDMs.

Everything here works on pre-computed integer tables (prepared in :mod:`brainalign.rsa.compare`),
so that one permutation costs one gather plus either an inversion count (Kendall) or one dot
product (Spearman, Pearson).

Kendall's S under permutation
-----------------------------
Permuting the items of an RDM only reorders its condensed entries, so the tie structure of
both vectors (and hence every tau denominator) is invariant; only the integer
``S = concordant - discordant`` changes.  The *fixed* side is sorted once (pair indices
``ii, jj`` in ascending order of its values, tie groups delimited by ``starts``).  The
*permuted* side is stored as an ``(n * n,)`` table of 1-based tie-broken ranks ``t`` together
with ``lo[t]``/``hi[t]``, the first and last rank of the tie group of ``t``.  For a permutation
``q`` the permuted ranks in fixed-side order are ``tab[q[ii[k]] * n + q[jj[k]]]``; without ties
``S = M (M - 1) / 2 - 2 * inversions``.

Inversions are counted with a radix structure of 16-way levels over the ranks ``0..M``:

* ``bits``: a bitset, 64 ranks per word -> "inserted ranks greater than ``h`` in ``h``'s word"
  is one shift and one POPCNT;
* ``a1[w]`` (uint16): inserted ranks in words ``> w`` of the same 16-word group (1,024 ranks);
* ``a2[g]`` (uint16): inserted ranks in groups ``> g`` of the same 16-group supergroup
  (16,384 ranks);
* ``a3[s]`` (uint32): inserted ranks in supergroups ``> s`` of the same hypergroup (262,144
  ranks), only when ``M >= 16,384``;
* ``a4[h]`` (uint32): inserted ranks in hypergroups ``> h``, only when ``M >= 262,144``.

A query is one popcount plus one load per level; an insertion sets one bit and adds 1 to a
prefix of one 16-lane vector per level (``<16 x i16>`` or ``<16 x i32>``, emitted directly as
LLVM IR so it does not depend on the auto-vectoriser).  So one permutation costs ``O(M log M)``
with a small constant and no cliff: each depth (3, 4 or 5 levels, up to ``M < 2^22`` pairs,
N <= 2,896 conditions) is its own compiled variant, the absent levels passed as ``None`` and
pruned at compile time, so small RDMs pay nothing for the deeper levels.  The gather index of
each pair depends only on the permutation, so it is computed once per permutation and shared by
all permuted RDMs.  The gather stays scalar on purpose: vector gathers are several times slower
than scalar loads on current x86 microcode.  It runs as a loop of its own before the count
(ranks into a scratch row): its loads are independent, so the CPU keeps many in flight, which
matters once the ``N x N`` table leaves the caches (1.5x at N = 300, 1.6-1.7x at N = 1,000; inside
the counting loop they queued behind its dependent steps).

Measured and not kept (Zen 4 EPYC): the top level held in a register instead of memory, which
takes its store-to-load chain out of every step: ~2.0 vs ~2.1 ns per pair and permutation, so
that chain is not what bounds a step (its ~20 micro-ops are).

Ties: light ties use the no-ties count plus an exact correction over the tie groups
(``O(sum c^2)``); heavy ties use a grouped count with two queries per element.  Beyond
``2^22 - 1`` pairs a Fenwick tree takes over (``O(M log M)`` as well, larger constant).  All
kernels are deterministic and every permutation's result is computed by one thread in a fixed
order, so any number of threads gives bit-identical output.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from brainalign.rsa._intrinsics import LANES as _LANES
from brainalign.rsa._intrinsics import popcount as _popcount
from brainalign.rsa._intrinsics import prefix_inc as _prefix_inc

__all__ = [
    "MAX_PAIRS_FAST",
    "MODE_FAST",
    "MODE_CORRECTED",
    "MODE_GROUPED",
    "MODE_FENWICK",
    "kendall_s_many",
]

#: Largest number of pairs M handled by the bitset structure (ranks 0..M fit five levels).
MAX_PAIRS_FAST = (1 << 22) - 1

MODE_FAST = 0  # no ties on either side
MODE_CORRECTED = 1  # light ties: no-ties count + exact tie correction
MODE_GROUPED = 2  # heavy ties: grouped count, two queries per element
MODE_FENWICK = 3  # M > MAX_PAIRS_FAST: Fenwick tree, any ties

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_U4 = np.uint64(4)
_U6 = np.uint64(6)
_U10 = np.uint64(10)
_U14 = np.uint64(14)
_U18 = np.uint64(18)
_U15 = np.uint64(15)
_U63 = np.uint64(63)
_BLOCK = 32  # permutations per parallel work item


# --------------------------------------------------------------------------------------
# Three-level rank counter
# --------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _count_greater(bits, a1, a2, a3, a4, h):
    """Number of inserted ranks strictly greater than ``h`` (uint64, ``0 <= h <= M``)."""
    w = h >> _U6
    c = _popcount(bits[w] >> (h & _U63) >> _U1) + np.uint64(a1[w]) + np.uint64(a2[h >> _U10])
    # ``a3``/``a4`` None: the level does not exist in this compiled variant (pruned)
    if a3 is not None:
        c += np.uint64(a3[h >> _U14])
    if a4 is not None:
        c += np.uint64(a4[h >> _U18])
    return c


@njit(cache=True, nogil=True, inline="always")
def _insert(bits, a1, a2, a3, a4, t):
    w = t >> _U6
    bits[w] |= _U1 << (t & _U63)
    grp = t >> _U10
    _prefix_inc(a1, grp << _U4, w & _U15)
    if a3 is None:
        _prefix_inc(a2, _U0, grp)
    else:
        sup = t >> _U14
        _prefix_inc(a2, sup << _U4, grp & _U15)
        if a4 is None:
            _prefix_inc(a3, _U0, sup)
        else:
            hyp = t >> _U18
            _prefix_inc(a3, hyp << _U4, sup & _U15)
            _prefix_inc(a4, _U0, hyp)


@njit(cache=True, nogil=True, inline="always")
def _step(bits, a1, a2, a3, a4, t):
    g = _count_greater(bits, a1, a2, a3, a4, t)
    _insert(bits, a1, a2, a3, a4, t)
    return g


@njit(cache=True, nogil=True, inline="always")
def _gather(tab, idx, tb, idx_mode, qr, qc, ii, jj):
    """The permuted ranks in fixed-side order into ``tb`` (``tb[k] = tab[qr[ii[k]] + qc[jj[k]]]``).

    ``idx_mode``: 0 gathers through ``qr, qc, ii, jj``; 1 does the same and stores the gather
    indices in ``idx``; 2 reuses ``idx`` (from an earlier call with the same permutation).  A
    loop of its own: its loads are independent, so the CPU keeps many of them in flight, which
    matters once the table outgrows the caches (N = 1,000: 4 MB); inside the counting loop they
    would queue behind its long dependent steps.
    """
    m = ii.shape[0]
    if idx_mode == 0:
        for k in range(m):
            tb[k] = tab[qr[ii[k]] + qc[jj[k]]]
    elif idx_mode == 1:
        for k in range(m):
            j = qr[ii[k]] + qc[jj[k]]
            idx[k] = j
            tb[k] = tab[j]
    else:
        for k in range(m):
            tb[k] = tab[idx[k]]


@njit(cache=True, nogil=True)
def _inv_fast(tab, idx, tb, idx_mode, qr, qc, ii, jj, bits, a1, a2, a3, a4):
    """Inversions of the gathered rank sequence (ranks treated as distinct).

    ``idx_mode`` as in :func:`_gather`; ``tb`` (uint32, ``M``) is scratch for the gathered ranks.
    """
    _gather(tab, idx, tb, idx_mode, qr, qc, ii, jj)
    greater = _U0
    for k in range(ii.shape[0]):
        greater += _step(bits, a1, a2, a3, a4, np.uint64(tb[k]))
    return np.int64(greater)


@njit(cache=True, nogil=True)
def _inv_pair(tab, idx, idx_mode, qr, qc, ii, jj, b0, x0, y0, u0, v0, b1, x1, y1, u1, v1):
    """Inversions of two permutations' sequences in one interleaved pass (no ties).

    Row ``u`` (0, 1) of ``idx``, ``qr``, ``qc`` and the structure ``b<u>, x<u>, ...`` (bits,
    a1, a2, a3, a4) belongs to permutation ``u``; rows 2 and 3 of ``idx`` are scratch for their
    gathered ranks; ``idx_mode`` as in :func:`_gather`.  The two insert/query chains are
    independent, so the CPU overlaps them (about 1.4x the throughput of two single passes).
    """
    t0b, t1b = idx[2], idx[3]
    _gather(tab, idx[0], t0b, idx_mode, qr[0], qc[0], ii, jj)
    _gather(tab, idx[1], t1b, idx_mode, qr[1], qc[1], ii, jj)
    g0 = _U0
    g1 = _U0
    for k in range(ii.shape[0]):
        t0 = np.uint64(t0b[k])
        t1 = np.uint64(t1b[k])
        g0 += _count_greater(b0, x0, y0, u0, v0, t0)
        g1 += _count_greater(b1, x1, y1, u1, v1, t1)
        _insert(b0, x0, y0, u0, v0, t0)
        _insert(b1, x1, y1, u1, v1, t1)
    return np.int64(g0), np.int64(g1)


@njit(cache=True, nogil=True)
def _recorded_correction(tb, pos, lo, fstart, fend, vlo, vhi):
    """:func:`_tie_correction` of the gathered ranks ``tb`` (their inverse ``pos[t] = k`` is
    filled here)."""
    for k in range(tb.shape[0]):
        pos[tb[k]] = k
    return _tie_correction(tb, pos, lo, fstart, fend, vlo, vhi)


@njit(cache=True, nogil=True)
def _tie_correction(seq, pos, lo, fstart, fend, vlo, vhi):
    """Contribution to S of pairs that the no-ties count scores but Kendall's S does not.

    Pairs inside a fixed-side tie group (``[fstart[g], fend[g])`` positions) that are not tied
    on the permuted side, plus pairs tied on the permuted side (ranks ``vlo[g]..vhi[g]``).
    """
    c = np.int64(0)
    for g in range(fstart.shape[0]):
        end = fend[g]
        for k in range(fstart[g], end):
            tk = seq[k]
            lk = lo[tk]
            for j in range(k + 1, end):
                tl = seq[j]
                if lo[tl] != lk:
                    c += 1 if tl > tk else -1
    for g in range(vlo.shape[0]):
        top = np.int64(vhi[g]) + 1
        for t in range(np.int64(vlo[g]), top):
            pt = pos[t]
            for u in range(t + 1, top):
                c += 1 if pt < pos[u] else -1
    return c


@njit(cache=True, nogil=True)
def _s_grouped(tab, tb, qr, qc, ii, jj, starts, lo, hi, bits, a1, a2, a3, a4):
    """Kendall S with ties on either or both sides (deferred insertion per fixed group;
    ``tb``: scratch for the gathered ranks)."""
    _gather(tab, tb, tb, 0, qr, qc, ii, jj)  # mode 0 does not touch its idx argument
    s = np.int64(0)
    inserted = np.int64(0)
    for g in range(starts.shape[0] - 1):
        a = starts[g]
        b = starts[g + 1]
        for k in range(a, b):
            t = np.uint64(tb[k])
            greater = np.int64(_count_greater(bits, a1, a2, a3, a4, np.uint64(hi[t])))
            # ranks < lo = inserted - ranks > lo - 1 (rank 0 is never used)
            less = inserted - np.int64(_count_greater(bits, a1, a2, a3, a4, np.uint64(lo[t]) - _U1))
            s += less - greater
        for k in range(a, b):
            _insert(bits, a1, a2, a3, a4, np.uint64(tb[k]))
        inserted += b - a
    return s


@njit(cache=True, nogil=True)
def _s_fenwick(tab, tb, qr, qc, ii, jj, starts, lo, hi, tree):
    """Kendall S for any M and any ties with a Fenwick tree over ranks (fallback; ``tb``:
    scratch for the gathered ranks)."""
    _gather(tab, tb, tb, 0, qr, qc, ii, jj)  # mode 0 does not touch its idx argument
    size = tree.shape[0]  # M + 1; ranks 1..M
    s = np.int64(0)
    inserted = np.int64(0)
    for g in range(starts.shape[0] - 1):
        a = starts[g]
        b = starts[g + 1]
        for k in range(a, b):
            t = np.int64(tb[k])
            # prefix(r) = number of inserted ranks <= r
            r = np.int64(hi[t])
            le_hi = np.int64(0)
            while r > 0:
                le_hi += tree[r]
                r -= r & -r
            r = np.int64(lo[t]) - 1
            lt_lo = np.int64(0)
            while r > 0:
                lt_lo += tree[r]
                r -= r & -r
            s += lt_lo - (inserted - le_hi)
        for k in range(a, b):
            r = np.int64(tb[k])
            while r < size:
                tree[r] += 1
                r += r & -r
        inserted += b - a
    return s


@njit(cache=True, nogil=True)
def _s_bitset(tab, idx, tb, idx_mode, mode, qr, qc, ii, jj, starts, fstart, fend, lo, hi, vlo, vhi,
              bits, a1, a2, a3, a4, pos, tot):  # fmt: skip
    """Kendall S of one permuted RDM with the bitset structure (``idx_mode`` -1: grouped;
    ``tb``: scratch for the gathered ranks)."""
    if idx_mode < 0:
        return _s_grouped(tab, tb, qr, qc, ii, jj, starts, lo, hi, bits, a1, a2, a3, a4)
    sv = tot - 2 * _inv_fast(tab, idx, tb, idx_mode, qr, qc, ii, jj, bits, a1, a2, a3, a4)
    if mode == MODE_CORRECTED:  # the ranks just counted are in tb
        sv -= _recorded_correction(tb, pos, lo, fstart, fend, vlo, vhi)
    return sv


# In the two helpers below the deeper levels are passed on in separate calls, never through a
# local that may be None: numba types such a local as Optional when the argument is an array.


@njit(cache=True, nogil=True)
def _s_pair(tab, idx, idx_mode, qr, qc, ii, jj, bits, a1, a2, a3, a4):
    """Inversions for the two permutations of rows 0 and 1 (structures zeroed first)."""
    bits[:] = 0
    a1[:] = 0
    a2[:] = 0
    if a3 is None:
        return _inv_pair(tab, idx, idx_mode, qr, qc, ii, jj, bits[0], a1[0], a2[0], None, None,
                         bits[1], a1[1], a2[1], None, None)  # fmt: skip
    a3[:] = 0
    if a4 is None:
        return _inv_pair(tab, idx, idx_mode, qr, qc, ii, jj, bits[0], a1[0], a2[0], a3[0], None,
                         bits[1], a1[1], a2[1], a3[1], None)  # fmt: skip
    a4[:] = 0
    return _inv_pair(tab, idx, idx_mode, qr, qc, ii, jj, bits[0], a1[0], a2[0], a3[0], a4[0],
                     bits[1], a1[1], a2[1], a3[1], a4[1])  # fmt: skip


@njit(cache=True, nogil=True)
def _s_one(tab, idx, idx_mode, mode, qr, qc, ii, jj, starts, fstart, fend, lo, hi, vlo, vhi,
           bits, a1, a2, a3, a4, pos, tot, u):  # fmt: skip
    """:func:`_s_bitset` for permutation row ``u`` (its structure zeroed first; row ``2 + u``
    of ``idx`` is its scratch)."""
    bits[u] = 0
    a1[u] = 0
    a2[u] = 0
    if a3 is None:
        return _s_bitset(tab, idx[u], idx[2 + u], idx_mode, mode, qr[u], qc[u], ii, jj, starts,
                         fstart, fend, lo, hi, vlo, vhi, bits[u], a1[u], a2[u], None, None,
                         pos, tot)  # fmt: skip
    a3[u] = 0
    if a4 is None:
        return _s_bitset(tab, idx[u], idx[2 + u], idx_mode, mode, qr[u], qc[u], ii, jj, starts,
                         fstart, fend, lo, hi, vlo, vhi, bits[u], a1[u], a2[u], a3[u], None,
                         pos, tot)  # fmt: skip
    a4[u] = 0
    return _s_bitset(tab, idx[u], idx[2 + u], idx_mode, mode, qr[u], qc[u], ii, jj, starts,
                     fstart, fend, lo, hi, vlo, vhi, bits[u], a1[u], a2[u], a3[u], a4[u],
                     pos, tot)  # fmt: skip


@njit(cache=True, nogil=True)
def _gather_offsets(perm, invert, qr, qc):
    """Row offsets ``qr[a] = q[a] * n`` and columns ``qc[a] = q[a]`` of ``q = perm`` (or its
    inverse)."""
    n = perm.shape[0]
    for a in range(n):
        v = perm[a]
        if invert:
            qc[v] = a
            qr[v] = a * n
        else:
            qc[a] = v
            qr[a] = v * n


@njit(cache=True, nogil=True)
def _block(out, p_lo, p_hi, perms, invert, ii, jj, starts, fstart, fend, tabs, los, his, vlo,
           vhi, vptr, modes, bits, a1, a2, a3, a4, qr, qc, idx, pos, tree, depth):  # fmt: skip
    """:func:`_block_depth` for a structure of ``depth`` levels (3, 4 or 5).

    The absent levels are passed on as None (a literal None cannot cross a ``prange`` body).
    """
    if depth == 3:
        _block_depth(out, p_lo, p_hi, perms, invert, ii, jj, starts, fstart, fend, tabs, los, his,
                     vlo, vhi, vptr, modes, bits, a1, a2, None, None, qr, qc, idx, pos,
                     tree)  # fmt: skip
    elif depth == 4:
        _block_depth(out, p_lo, p_hi, perms, invert, ii, jj, starts, fstart, fend, tabs, los, his,
                     vlo, vhi, vptr, modes, bits, a1, a2, a3, None, qr, qc, idx, pos,
                     tree)  # fmt: skip
    else:
        _block_depth(out, p_lo, p_hi, perms, invert, ii, jj, starts, fstart, fend, tabs, los, his,
                     vlo, vhi, vptr, modes, bits, a1, a2, a3, a4, qr, qc, idx, pos,
                     tree)  # fmt: skip


@njit(cache=True, nogil=True)
def _block_depth(out, p_lo, p_hi, perms, invert, ii, jj, starts, fstart, fend, tabs, los, his,
                 vlo, vhi, vptr, modes, bits, a1, a2, a3, a4, qr, qc, idx, pos,
                 tree):  # fmt: skip
    """Kendall S for permutations ``p_lo:p_hi`` (two at a time), every permuted RDM.

    ``a3``/``a4`` are None where the structure has no such level: one compiled variant per
    depth, with no load or update for the absent levels in its inner loops.
    """
    nsub = tabs.shape[0]
    m = ii.shape[0]
    tot = np.int64(m) * (m - 1) // 2
    for p0 in range(p_lo, p_hi, 2):
        npair = min(2, p_hi - p0)
        for u in range(npair):
            _gather_offsets(perms[p0 + u], invert, qr[u], qc[u])
        have_idx = False
        for s in range(nsub):
            mode = modes[s]
            idx_mode = 2 if have_idx else (1 if nsub > 1 else 0)
            if mode <= MODE_CORRECTED and npair == 2:
                i0, i1 = _s_pair(tabs[s], idx, idx_mode, qr, qc, ii, jj, bits, a1, a2, a3, a4)
                out[s, p0] = tot - 2 * i0
                out[s, p0 + 1] = tot - 2 * i1
                if mode == MODE_CORRECTED:
                    for u in range(2):
                        out[s, p0 + u] -= _recorded_correction(
                            idx[2 + u], pos, los[s], fstart, fend,
                            vlo[vptr[s]: vptr[s + 1]], vhi[vptr[s]: vptr[s + 1]],
                        )  # fmt: skip
                have_idx = True
                continue
            if mode == MODE_GROUPED or mode == MODE_FENWICK:
                idx_mode = -1
            for u in range(npair):
                if mode == MODE_FENWICK:
                    tree[:] = 0
                    out[s, p0 + u] = _s_fenwick(tabs[s], idx[2 + u], qr[u], qc[u], ii, jj,
                                                starts, los[s], his[s], tree)  # fmt: skip
                    continue
                out[s, p0 + u] = _s_one(tabs[s], idx, idx_mode, mode, qr, qc, ii, jj, starts,
                                        fstart, fend, los[s], his[s], vlo[vptr[s]: vptr[s + 1]],
                                        vhi[vptr[s]: vptr[s + 1]], bits, a1, a2, a3, a4,
                                        pos, tot, u)  # fmt: skip
            have_idx = have_idx or idx_mode > 0


@njit(cache=True, nogil=True, parallel=True)
def kendall_s_many(
    perms, ii, jj, starts, fstart, fend, tabs, los, his, vlo, vhi, vptr, modes, invert
):
    """Kendall S of one fixed RDM against ``S`` permuted RDMs, for every permutation.

    Parameters
    ----------
    perms : (P, n) int64
        Permutations.  With ``invert`` the tables are gathered through ``p^-1`` (Mantel
        permutes the fixed side by ``p``: the same as permuting the other side by ``p^-1``).
    ii, jj : (M,) uint16
        Row/column of the fixed side's condensed pairs in ascending order of its values.
    starts : (G + 1,) int64
        Fixed-side tie-group boundaries in that order.
    fstart, fend : (F,) int64
        Boundaries of the fixed-side tie groups of size > 1.
    tabs : (S, n * n) uint16 or uint32
        1-based tie-broken ranks of each permuted RDM, as flattened square tables.
    los, his : (S, M + 1) uint32
        First / last rank of the tie group of each rank (index 0 unused).
    vlo, vhi : (V,) int64
        First / last rank of the permuted-side tie groups of size > 1, all RDMs concatenated;
        RDM ``s`` owns ``vptr[s]:vptr[s + 1]``.
    modes : (S,) int64
        ``MODE_*`` per permuted RDM.
    invert : bool

    Returns
    -------
    (S, P) int64
        ``S = concordant - discordant`` for each RDM and permutation.
    """
    npm, n = perms.shape
    nsub = tabs.shape[0]
    m = ii.shape[0]
    nw = (m >> 6) + 1
    ng = (nw + _LANES - 1) // _LANES
    ns = (ng + _LANES - 1) // _LANES
    nh = (ns + _LANES - 1) // _LANES
    # 3 levels below 16,384 pairs, 4 below 262,144, else 5
    depth = 3 if ns == 1 else (4 if nh == 1 else 5)
    out = np.empty((nsub, npm), dtype=np.int64)
    nblocks = (npm + _BLOCK - 1) // _BLOCK
    for blk in prange(nblocks):
        bits = np.zeros((2, nw), dtype=np.uint64)
        a1 = np.zeros((2, ng * _LANES), dtype=np.uint16)
        a2 = np.zeros((2, ns * _LANES), dtype=np.uint16)
        a3 = np.zeros((2, nh * _LANES), dtype=np.uint32)
        a4 = np.zeros((2, _LANES), dtype=np.uint32)
        qr = np.empty((2, n), dtype=np.uint32)
        qc = np.empty((2, n), dtype=np.uint32)
        idx = np.empty((4, m), dtype=np.uint32)  # gather indices, gathered ranks
        pos = np.empty(m + 1, dtype=np.int64)
        tree = np.empty(m + 1, dtype=np.int32)
        p_lo = blk * _BLOCK
        p_hi = min(npm, p_lo + _BLOCK)
        _block(out, p_lo, p_hi, perms, invert, ii, jj, starts, fstart, fend, tabs, los, his,
               vlo, vhi, vptr, modes, bits, a1, a2, a3, a4, qr, qc, idx, pos, tree,
               depth)  # fmt: skip
    return out
