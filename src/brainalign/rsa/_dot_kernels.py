"""Numba kernels for permutation statistics that are dot products (Spearman, Pearson,
partial Mantel), and the permutation check.

The permuted side is a flattened square table gathered through each permutation (see
:mod:`brainalign.rsa._kernels` for the Kendall counterpart); every permutation's sum is computed
by one thread in a fixed order, so any number of threads gives bit-identical output.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["dot_many", "partial_dots", "check_permutations"]

_BLOCK = 32  # permutations per parallel work item


@njit(cache=True, nogil=True, parallel=True)
def dot_many(perms, ii, jj, fixed, tabs, invert):
    """Dot products of a fixed condensed vector with permuted tables.

    Parameters
    ----------
    perms : (P, n) int64
    ii, jj : (M,) uint16
        Condensed (row-major upper-triangle) pair indices.
    fixed : (M,) float64
        Centred values of the fixed side in condensed order.
    tabs : (S, n * n) float64
        Centred values of each permuted RDM as flattened square tables.
    invert : bool
        Gather through ``p^-1`` instead of ``p``.

    Returns
    -------
    (S, P) float64
        ``sum_k fixed[k] * tab[q[ii[k]], q[jj[k]]]``, summed sequentially in k order (exact when
        all values are integers, as for doubled centred Spearman ranks).
    """
    npm, n = perms.shape
    nsub = tabs.shape[0]
    m = ii.shape[0]
    out = np.empty((nsub, npm), dtype=np.float64)
    nblocks = (npm + _BLOCK - 1) // _BLOCK
    for blk in prange(nblocks):
        qr = np.empty(n, dtype=np.uint32)
        qc = np.empty(n, dtype=np.uint32)
        for p in range(blk * _BLOCK, min(npm, (blk + 1) * _BLOCK)):
            for a in range(n):
                v = perms[p, a]
                if invert:
                    qc[v] = a
                    qr[v] = a * n
                else:
                    qc[a] = v
                    qr[a] = v * n
            for s in range(nsub):
                tab = tabs[s]
                acc = 0.0
                for k in range(m):
                    acc += fixed[k] * tab[qr[ii[k]] + qc[jj[k]]]
                out[s, p] = acc
    return out


@njit(cache=True, nogil=True, parallel=True)
def partial_dots(perms, ii, jj, tab, fy, fz):
    """Dot products of a permuted table with two fixed vectors (partial Mantel).

    Parameters
    ----------
    perms : (P, n) int64
        Permutations ``p``; the table is gathered as ``tab[p[ii[k]], p[jj[k]]]``.
    ii, jj : (M,) uint16
    tab : (n * n,) float64
        Centred values of the permuted RDM (x) as a flattened square table.
    fy, fz : (M,) float64
        Centred values of the fixed RDMs (y, z) in condensed order.

    Returns
    -------
    dxy, dxz : (P,) float64
    """
    npm, n = perms.shape
    m = ii.shape[0]
    dxy = np.empty(npm, dtype=np.float64)
    dxz = np.empty(npm, dtype=np.float64)
    nblocks = (npm + _BLOCK - 1) // _BLOCK
    for blk in prange(nblocks):
        qr = np.empty(n, dtype=np.uint32)
        qc = np.empty(n, dtype=np.uint32)
        for p in range(blk * _BLOCK, min(npm, (blk + 1) * _BLOCK)):
            for a in range(n):
                qc[a] = perms[p, a]
                qr[a] = perms[p, a] * n
            ay = 0.0
            az = 0.0
            for k in range(m):
                v = tab[qr[ii[k]] + qc[jj[k]]]
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
