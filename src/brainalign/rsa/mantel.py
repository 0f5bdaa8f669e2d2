"""Exact Mantel permutation tests for RDMs (Kendall tau-b/tau-a, Spearman, Pearson).

Semantics follow :func:`skbio.stats.distance.mantel`, which the original study used: the rows
and columns of ``x`` are permuted together, ``y`` stays fixed, and

* two-sided: ``p = (#{|s_perm| >= |s_obs|} + 1) / (P + 1)``
* greater:   ``p = (#{s_perm >= s_obs} + 1) / (P + 1)``
* less:      ``p = (#{s_perm <= s_obs} + 1) / (P + 1)``

:func:`draw_permutations` draws exactly the permutations that scikit-bio draws for the same
seed (``rng.permutation(N)`` once per permutation, vectorised), so with an integer seed the
p-values equal ``mantel(x, y, method='kendalltau', permutations=P, seed=seed)``.

Kendall statistics are computed exactly: permuting the items only reorders the condensed
entries, so the tie counts (the tau-a and tau-b denominators) are fixed and only the integer
``S = concordant - discordant`` changes.  ``x``'s pairs are sorted once; each permutation is a
gather of the other RDM's tie-broken ranks through ``p^-1`` plus an inversion count (bitset +
popcount; see :mod:`brainalign.rsa._kernels`).  tau-a and tau-b therefore give identical p-values.
Spearman is computed on integer (doubled, centred) ranks, so it is exact too; Pearson is a
float64 dot product per permutation.

Threads: ``n_jobs`` threads share the permutations; each permutation's statistic is computed by
one thread in a fixed order, so the results are bit-identical for any ``n_jobs``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from brainalign.rsa import _dot_kernels
from brainalign.rsa.compare import (
    centred_pearson,
    centred_spearman,
    check_method,
    kendall_fixed,
    kendall_permuted,
    kendall_s,
    kendall_tau_from_s,
    rdm_list,
)
from brainalign.rsa.condensed import (
    as_condensed,
    condensed_index_pairs,
    n_conditions_from_pairs,
    vector_to_rdm,
)

__all__ = [
    "ALTERNATIVES",
    "MantelResult",
    "draw_permutations",
    "mantel_many",
    "mantel_test",
    "partial_mantel_test",
    "permutation_statistics",
]

ALTERNATIVES: tuple[str, ...] = ("two-sided", "greater", "less")
PARTIAL_METHODS: tuple[str, ...] = ("spearman", "pearson")

Seed = int | np.random.Generator


@dataclass(frozen=True)
class MantelResult:
    """Result of a Mantel test.

    Attributes
    ----------
    statistic : float
        Observed statistic (``nan`` if an RDM is constant).
    pvalue : float
        Permutation p-value (``nan`` if the statistic is ``nan`` or there are no permutations).
    n_permutations : int
    method : str
    alternative : str
    """

    statistic: float
    pvalue: float
    n_permutations: int
    method: str
    alternative: str


# --------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------


def _rng(seed: Seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an int or a numpy Generator, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed!r}")
    return np.random.default_rng(int(seed))


def draw_permutations(n_items: int, n_permutations: int, seed: Seed) -> NDArray[np.int64]:
    """Draw random permutations of ``n_items`` items.

    Row ``k`` equals the ``k``-th call of ``rng.permutation(n_items)`` on
    ``rng = np.random.default_rng(seed)`` (the sequence scikit-bio's ``mantel`` draws), but
    all rows are drawn in one vectorised call.

    Parameters
    ----------
    n_items : int
        ``N``, at least 1.
    n_permutations : int
        ``P``, at least 0.
    seed : int or numpy.random.Generator
        A Generator is advanced in place.

    Returns
    -------
    (P, N) int64
    """
    if isinstance(n_items, bool) or not isinstance(n_items, int | np.integer) or n_items < 1:
        raise ValueError(f"n_items must be a positive int, got {n_items!r}")
    if (
        isinstance(n_permutations, bool)
        or not isinstance(n_permutations, int | np.integer)
        or n_permutations < 0
    ):
        raise ValueError(f"n_permutations must be a non-negative int, got {n_permutations!r}")
    rng = _rng(seed)
    base = np.broadcast_to(np.arange(int(n_items), dtype=np.int64), (int(n_permutations), n_items))
    return rng.permuted(base, axis=1)


def _permutations(permutations: int | ArrayLike, n: int, seed: Seed) -> NDArray[np.int64]:
    if isinstance(permutations, int | np.integer) and not isinstance(permutations, bool):
        if permutations < 0:
            raise ValueError(f"permutations must be >= 0, got {permutations!r}")
        return draw_permutations(n, int(permutations), seed)
    arr = np.asarray(permutations)
    if arr.ndim != 2 or arr.shape[1] != n or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"permutations must be an int or a (P, {n}) integer array, got "
            f"{arr.dtype} array of shape {arr.shape}"
            if isinstance(permutations, np.ndarray | list | tuple)
            else f"permutations must be an int or a (P, {n}) integer array, got {permutations!r}"
        )
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    bad = _dot_kernels.check_permutations(arr)
    if bad >= 0:
        raise ValueError(f"permutations[{bad}] is not a permutation of 0..{n - 1}: {arr[bad]!r}")
    return arr


def _check_alternative(alternative: str) -> str:
    if not isinstance(alternative, str) or alternative not in ALTERNATIVES:
        raise ValueError(
            f"unknown alternative {alternative!r}; expected one of "
            f"{', '.join(repr(a) for a in ALTERNATIVES)}"
        )
    return alternative


def _n_threads(n_jobs: int) -> int:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a positive int or -1, got {n_jobs!r}")
    avail = numba.config.NUMBA_NUM_THREADS
    if n_jobs < 0:
        if n_jobs != -1:
            raise ValueError(f"n_jobs must be a positive int or -1, got {n_jobs!r}")
        return min(avail, os.cpu_count() or 1)
    return min(int(n_jobs), avail)


@contextmanager
def _threads(n_jobs: int) -> Iterator[None]:
    n = _n_threads(n_jobs)
    old = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(old)


def _pvalues(null: NDArray[np.float64], observed: NDArray[np.float64], alternative: str):
    """p-values per row of ``null`` (S, P) for ``observed`` (S,)."""
    npm = null.shape[1]
    obs = observed[:, None]
    if alternative == "two-sided":
        count = (np.abs(null) >= np.abs(obs)).sum(axis=1)
    elif alternative == "greater":
        count = (null >= obs).sum(axis=1)
    else:
        count = (null <= obs).sum(axis=1)
    p = (count + 1) / (npm + 1)
    return np.where(np.isnan(observed) | (npm == 0), np.nan, p)


# --------------------------------------------------------------------------------------
# Core: statistics of x (permuted) against S fixed RDMs
# --------------------------------------------------------------------------------------


def _statistics(
    vx: NDArray[np.float64],
    vys: list[NDArray[np.float64]],
    n: int,
    perms: NDArray[np.int64],
    method: str,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Observed statistics (S,) and permutation statistics (S, P).

    ``x`` is the side that Mantel permutes by ``p``.  Internally ``x`` is the fixed (sorted)
    side and each ``y`` is gathered through ``p^-1`` -- the same statistic -- so one sort of
    ``x`` serves every subject.
    """
    identity = np.arange(n, dtype=np.int64)[None, :]
    allp = np.concatenate([identity, perms]) if perms.size else identity
    m = vx.size
    iu, ju = condensed_index_pairs(n)
    if method in ("tau_b", "tau_a"):
        fixed = kendall_fixed(vx, n)
        preps = [kendall_permuted(v, n) for v in vys]
        s = kendall_s(fixed, preps, allp, True)
        stats = np.stack(
            [kendall_tau_from_s(s[k], m, fixed.ties, p.ties, method) for k, p in enumerate(preps)]
        )
    else:
        centre = centred_spearman if method == "spearman" else centred_pearson
        cx = centre(vx)
        cys = [centre(v) for v in vys]
        tabs = vector_to_rdm(np.stack(cys))
        dots = _dot_kernels.dot_many(
            allp, iu.astype(np.uint16), ju.astype(np.uint16), cx, tabs.reshape(len(vys), -1), True
        )
        sxx = float(np.dot(cx, cx))
        stats = np.empty(dots.shape)
        for k, c in enumerate(cys):
            syy = float(np.dot(c, c))
            if sxx == 0.0 or syy == 0.0:
                stats[k] = np.nan
            else:
                stats[k] = np.clip(dots[k] / math.sqrt(sxx * syy), -1.0, 1.0)
    return stats[:, 0], stats[:, 1:]


def _prepare(x: ArrayLike, ys: list[ArrayLike] | NDArray, names: list[str]):
    vx = as_condensed(x, "x")
    n = n_conditions_from_pairs(vx.size, "x")
    vys = []
    for y, name in zip(ys, names, strict=True):
        v = as_condensed(y, name)
        if v.size != vx.size:
            raise ValueError(
                f"{name} has {v.size} pairs but x has {vx.size} (RDMs of different size)"
            )
        vys.append(v)
    return vx, vys, n


def permutation_statistics(
    x: ArrayLike,
    y: ArrayLike,
    method: str = "tau_b",
    permutations: int | ArrayLike = 10000,
    seed: Seed = 0,
    n_jobs: int = 1,
) -> tuple[float, NDArray[np.float64]]:
    """Observed statistic and its permutation distribution (the values a Mantel test compares).

    Parameters
    ----------
    x, y : (N, N) or (M,) array_like
        RDMs; rows and columns of ``x`` are permuted together.
    method : {"tau_b", "tau_a", "spearman", "pearson"}
    permutations : int or (P, N) int array
    seed : int or numpy.random.Generator
    n_jobs : int
        Threads (``-1``: all available).

    Returns
    -------
    statistic : float
    null : (P,) float64
        Statistic of ``x[p][:, p]`` against ``y`` for every permutation ``p``.
    """
    check_method(method)
    vx, vys, n = _prepare(x, [y], ["y"])
    perms = _permutations(permutations, n, seed)
    with _threads(n_jobs):
        obs, null = _statistics(vx, vys, n, perms, method)
    return float(obs[0]), null[0]


def mantel_test(
    x: ArrayLike,
    y: ArrayLike,
    method: str = "tau_b",
    permutations: int | ArrayLike = 10000,
    alternative: str = "two-sided",
    seed: Seed = 0,
    n_jobs: int = 1,
) -> MantelResult:
    """Mantel test between two RDMs.

    Parameters
    ----------
    x : (N, N) or (M,) array_like
        RDM whose rows and columns are permuted together (scikit-bio's ``x``).
    y : (N, N) or (M,) array_like
        Fixed RDM.
    method : {"tau_b", "tau_a", "spearman", "pearson"}
    permutations : int or (P, N) int array
        Number of permutations (drawn with :func:`draw_permutations` from ``seed``) or the
        permutations themselves.
    alternative : {"two-sided", "greater", "less"}
    seed : int or numpy.random.Generator
        Used only when ``permutations`` is an int.
    n_jobs : int
        Threads (``-1``: all available).  Results do not depend on it.

    Returns
    -------
    MantelResult
    """
    stats, pvals = mantel_many(x, [y], method, permutations, alternative, seed, n_jobs)
    npm = permutations if isinstance(permutations, int | np.integer) else len(permutations)
    return MantelResult(float(stats[0]), float(pvals[0]), int(npm), method, alternative)


def mantel_many(
    x: ArrayLike,
    ys: ArrayLike,
    method: str = "tau_b",
    permutations: int | ArrayLike = 10000,
    alternative: str = "two-sided",
    seed: Seed = 0,
    n_jobs: int = 1,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mantel tests of one RDM against many, with one shared permutation set.

    Parameters
    ----------
    x : (N, N) or (M,) array_like
        Model RDM (the permuted side).
    ys : (S, N, N) or (S, M) array_like
        Subject RDMs.
    method, permutations, alternative, seed, n_jobs
        As in :func:`mantel_test`; the permutations are drawn once and used for every subject.

    Returns
    -------
    statistics : (S,) float64
    pvalues : (S,) float64
        Element ``s`` equals ``mantel_test(x, ys[s], ...)`` with the same permutations.
    """
    check_method(method)
    _check_alternative(alternative)
    ys_list = rdm_list(ys, "ys")
    names = [f"ys[{k}]" for k in range(len(ys_list))] if len(ys_list) > 1 else ["y"]
    vx, vys, n = _prepare(x, ys_list, names)
    perms = _permutations(permutations, n, seed)
    with _threads(n_jobs):
        obs, null = _statistics(vx, vys, n, perms, method)
    return obs, _pvalues(null, obs, alternative)


def partial_mantel_test(
    x: ArrayLike,
    y: ArrayLike,
    z: ArrayLike,
    method: str = "spearman",
    permutations: int | ArrayLike = 10000,
    alternative: str = "two-sided",
    seed: Seed = 0,
    n_jobs: int = 1,
) -> MantelResult:
    """Partial Mantel test of ``x`` and ``y`` controlling for ``z``.

    The statistic is the partial correlation
    ``r_xy.z = (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2) (1 - r_yz^2))``; rows and columns of ``x``
    are permuted together while ``y`` and ``z`` stay fixed (as vegan's ``mantel.partial``).

    Parameters
    ----------
    x, y, z : (N, N) or (M,) array_like
    method : {"spearman", "pearson"}
    permutations, alternative, seed, n_jobs
        As in :func:`mantel_test`.

    Returns
    -------
    MantelResult
    """
    check_method(method, PARTIAL_METHODS)
    _check_alternative(alternative)
    vx, (vy, vz), n = _prepare(x, [y, z], ["y", "z"])
    perms = _permutations(permutations, n, seed)
    centre = centred_spearman if method == "spearman" else centred_pearson
    cx, cy, cz = centre(vx), centre(vy), centre(vz)
    iu, ju = condensed_index_pairs(n)
    tab = vector_to_rdm(cx)
    identity = np.arange(n, dtype=np.int64)[None, :]
    allp = np.concatenate([identity, perms]) if perms.size else identity
    with _threads(n_jobs):
        dxy, dxz = _dot_kernels.partial_dots(
            allp, iu.astype(np.uint16), ju.astype(np.uint16), tab.ravel(), cy, cz
        )
    sxx, syy, szz = (float(np.dot(c, c)) for c in (cx, cy, cz))
    npm = perms.shape[0]
    if sxx == 0.0 or syy == 0.0 or szz == 0.0:
        return MantelResult(float("nan"), float("nan"), npm, method, alternative)
    rxy = dxy / math.sqrt(sxx * syy)
    rxz = dxz / math.sqrt(sxx * szz)
    ryz = float(np.dot(cy, cz)) / math.sqrt(syy * szz)
    den = np.sqrt((1.0 - rxz * rxz) * (1.0 - ryz * ryz))
    with np.errstate(divide="ignore", invalid="ignore"):
        stats = np.where(den > 0, (rxy - rxz * ryz) / den, np.nan)
    obs = stats[:1]
    pv = _pvalues(stats[None, 1:], obs, alternative)
    return MantelResult(float(obs[0]), float(pv[0]), npm, method, alternative)
