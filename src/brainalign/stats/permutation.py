"""Permutation p-values for statistics of condensed RDMs.

Dwivedi et al. (2021), ``library/significance_testing.py``: p-values from permutations,
``p = (count(stat_perm >= stat_true) + 1) / (N + 1)`` (one-sided); for the difference between two
statistics a two-directional count on the sign of the true difference.

Two permutation schemes (see ``methods.md`` §2.2):

``"labels"`` (default)
    permute the condition labels: rows and columns of the brain RDM together. This respects the
    dependence between RDM entries that share a condition, so it is the valid null.
``"entries"``
    the original code's ``np.random.permutation(n_pairs)`` of the vectorised RDM (faithful, but RDM
    entries are not exchangeable).

All random draws take ``seed: int | np.random.Generator``; the same seed gives bit-identical output,
independent of batch sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from brainalign.rsa.condensed import condensed_index_pairs, n_conditions_from_pairs, pair_index
from brainalign.rsa.ols import DesignBases, total_ss

__all__ = [
    "PERMUTATION_SCHEMES",
    "PermutationResult",
    "Seed",
    "condensed_permutation",
    "iter_permutation_indices",
    "p_from_counts",
    "permutation_indices",
    "permutation_test",
    "permutation_test_bases",
    "rng_from_seed",
    "subset_condensed_index",
]

PERMUTATION_SCHEMES = ("labels", "entries")

Seed = int | np.random.Generator


def rng_from_seed(seed: Seed) -> np.random.Generator:
    """``seed`` itself if it is a Generator, else ``np.random.default_rng(seed)``.

    Raises
    ------
    ValueError
        If ``seed`` is neither an int nor a Generator (``bool`` is refused).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int or a numpy Generator; got {seed!r}")
    return np.random.default_rng(int(seed))


def _check_scheme(scheme: str) -> str:
    if scheme not in PERMUTATION_SCHEMES:
        raise ValueError(f"unknown permutation scheme {scheme!r}; use one of {PERMUTATION_SCHEMES}")
    return scheme


# --------------------------------------------------------------------------------------------
# Permutation indices
# --------------------------------------------------------------------------------------------
def condensed_permutation(perm: ArrayLike) -> np.ndarray:
    """Index ``idx`` such that ``vec[idx] == rdm_to_vector(R[perm][:, perm])``.

    ``vec = rdm_to_vector(R)`` is the condensed form of the RDM ``R``.

    Parameters
    ----------
    perm : array ``(n,)``
        A permutation of ``range(n)`` (relabelling of the conditions).

    Returns
    -------
    ndarray ``(n (n - 1) / 2,)`` of int64
    """
    perm = np.asarray(perm)
    n = perm.shape[0]
    if perm.ndim != 1 or not np.array_equal(np.sort(perm), np.arange(n)):
        raise ValueError(f"perm must be a permutation of range({n}); got {perm!r}")
    iu, ju = condensed_index_pairs(n)
    return pair_index(n, perm[iu], perm[ju])


def subset_condensed_index(idx: ArrayLike, n_conditions: int) -> np.ndarray:
    """Condensed indices of the sub-RDM on conditions ``idx`` (kept in the given order).

    Parameters
    ----------
    idx : int array ``(k,)``
        Distinct condition indices, ``k >= 2``.
    n_conditions : int
        ``n`` of the full RDM.

    Returns
    -------
    ndarray ``(k (k - 1) / 2,)`` of int64
        ``vec[result]`` is the condensed sub-RDM of ``vec``.
    """
    idx = np.asarray(idx)
    if idx.ndim != 1 or idx.size < 2:
        raise ValueError(f"need at least 2 condition indices; got {idx!r}")
    if idx.min() < 0 or idx.max() >= n_conditions or np.unique(idx).size != idx.size:
        raise ValueError(f"condition indices {idx!r} invalid for n_conditions={n_conditions}")
    iu, ju = condensed_index_pairs(idx.size)
    return pair_index(n_conditions, idx[iu], idx[ju])


def iter_permutation_indices(
    n_pairs: int,
    n_permutations: int,
    *,
    scheme: str = "labels",
    seed: Seed = 0,
    batch_size: int = 256,
) -> Iterator[np.ndarray]:
    """Yield ``(b, n_pairs)`` index batches; permutation ``k`` is the same for every batch size."""
    _check_scheme(scheme)
    if int(n_permutations) < 1:
        raise ValueError(f"n_permutations must be >= 1; got {n_permutations}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    n = n_conditions_from_pairs(n_pairs)
    rng = rng_from_seed(seed)
    dtype = np.int32 if n_pairs < 2**31 else np.int64
    done = 0
    while done < n_permutations:
        b = min(int(batch_size), int(n_permutations) - done)
        out = np.empty((b, n_pairs), dtype=dtype)
        for k in range(b):
            if scheme == "labels":
                out[k] = condensed_permutation(rng.permutation(n))
            else:
                out[k] = rng.permutation(n_pairs)
        done += b
        yield out


def permutation_indices(
    n_pairs: int, n_permutations: int, *, scheme: str = "labels", seed: Seed = 0
) -> np.ndarray:
    """All permutation indices at once, ``(n_permutations, n_pairs)``."""
    return np.concatenate(
        list(iter_permutation_indices(n_pairs, n_permutations, scheme=scheme, seed=seed))
    )


def p_from_counts(count: ArrayLike, n_permutations: int) -> np.ndarray:
    """``(count + 1) / (N + 1)``."""
    return (np.asarray(count, dtype=np.float64) + 1.0) / (int(n_permutations) + 1.0)


# --------------------------------------------------------------------------------------------
# Permutation test
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PermutationResult:
    """Observed statistic and permutation p-values.

    Attributes
    ----------
    observed : ndarray ``(..., K)``
    p : ndarray ``(..., K)``
        One-sided ``(count(perm >= observed) + 1) / (N + 1)``.
    p_diff : ndarray ``(..., K, K)`` or None
        ``p_diff[..., i, j]``: difference ``stat_i - stat_j``, counted in the direction of the
        observed difference (original ``count_diff``); diagonal = 1.
    n_permutations : int
    scheme : str
    """

    observed: np.ndarray
    p: np.ndarray
    p_diff: np.ndarray | None
    n_permutations: int
    scheme: str


class _Counts:
    """Permutation counts of a statistic ``(..., K)`` and, with ``pairwise``, of its pairwise
    differences ``(..., K, K)`` counted in the direction of the observed difference."""

    def __init__(self, observed: np.ndarray, pairwise: bool) -> None:
        self.observed = observed
        self.count = np.zeros(observed.shape, dtype=np.int64)
        self.pairwise = pairwise
        if pairwise:
            self.d_true = observed[..., :, None] - observed[..., None, :]
            self.count_d = np.zeros(self.d_true.shape, dtype=np.int64)
            self.pos = self.d_true >= 0

    def add_pairwise(self, s: np.ndarray) -> None:
        """Count the pairwise differences of one permutation's statistic ``s`` ``(..., K)``."""
        d = s[..., :, None] - s[..., None, :]
        self.count_d += np.where(self.pos, d >= self.d_true, d <= self.d_true)

    def p_values(self, n_permutations: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``p`` and ``p_diff`` (diagonal 1; None without ``pairwise``)."""
        p = p_from_counts(self.count, n_permutations)
        if not self.pairwise:
            return p, None
        p_diff = p_from_counts(self.count_d, n_permutations)
        eye = np.eye(self.observed.shape[-1], dtype=bool)
        p_diff[..., eye] = 1.0
        return p, p_diff


def permutation_test(
    y: ArrayLike,
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    n_permutations: int = 10_000,
    scheme: str = "labels",
    seed: Seed = 0,
    pairwise: bool = False,
    batch_size: int | None = None,
    max_elements: int = 2**24,
) -> PermutationResult:
    """Permutation test of a statistic of a brain RDM (or a stack of them).

    Parameters
    ----------
    y : array ``(..., n_pairs)``
        Condensed brain RDM(s), e.g. one ROI ``(n_pairs,)`` or all searchlights
        ``(n_centres, n_pairs)``.  Every RDM in the stack receives the *same* permutation (as the
        original, which permutes all searchlights together).
    statistic : callable
        Maps ``(..., n_pairs)`` to ``(..., K)``; it must act on the last axis only.
    n_permutations, scheme, seed
        See the module docstring.
    pairwise : bool
        Also compute p-values of the pairwise differences.
    batch_size : int, optional
        Permutations evaluated together; by default as many as keep the permuted stack below
        ``max_elements`` values.

    Returns
    -------
    PermutationResult
    """
    _check_scheme(scheme)
    Y = np.asarray(y)
    if Y.ndim < 1 or Y.shape[-1] < 1:
        raise ValueError(f"y must have shape (..., n_pairs); got {Y.shape}")
    if not np.all(np.isfinite(Y)):
        raise ValueError("y contains NaN or infinite values; drop those RDMs first")
    n_pairs = Y.shape[-1]
    observed = np.asarray(statistic(Y), dtype=np.float64)
    if observed.shape[:-1] != Y.shape[:-1]:
        raise ValueError(
            f"statistic returned shape {observed.shape}; expected {Y.shape[:-1]} + (K,)"
        )
    lead = int(np.prod(Y.shape[:-1], dtype=np.int64))
    if batch_size is None:
        batch_size = max(1, int(max_elements // max(1, lead * n_pairs)))
    counts = _Counts(observed, pairwise)
    for idx in iter_permutation_indices(
        n_pairs, n_permutations, scheme=scheme, seed=seed, batch_size=batch_size
    ):
        Yp = Y[..., idx]  # (..., b, n_pairs)
        sp = np.asarray(statistic(Yp), dtype=np.float64)  # (..., b, K)
        sp = np.moveaxis(sp, -2, 0)  # (b, ..., K)
        counts.count += (sp >= observed).sum(axis=0)
        if pairwise:
            for s in sp:
                counts.add_pairwise(s)
    p, p_diff = counts.p_values(n_permutations)
    return PermutationResult(observed, p, p_diff, int(n_permutations), scheme)


# --------------------------------------------------------------------------------------------
# Fast permutations for many RDMs: permute the model bases instead of the brain RDMs
# --------------------------------------------------------------------------------------------
def permutation_test_bases(
    y: ArrayLike,
    bases: DesignBases,
    stat_from_r2: Callable[[np.ndarray], np.ndarray],
    *,
    n_permutations: int = 10_000,
    scheme: str = "labels",
    seed: Seed = 0,
    pairwise: bool = False,
    max_elements: int = 2**24,
) -> PermutationResult:
    """Same result as :func:`permutation_test` for statistics that are functions of R².

    ``⟨y[σ], q⟩ = ⟨y, q[σ⁻¹]⟩`` and the total sum of squares does not change under a permutation,
    so permuting the brain RDM entries by ``σ`` equals permuting the rows of the orthonormal model
    bases by ``σ⁻¹``; a batch of permutations is then one matrix product
    ``Y @ [Q_σ1 | Q_σ2 | ...]``.  Use it for searchlights (``y`` of shape ``(n_centres, n_pairs)``).

    Parameters
    ----------
    y : array ``(n, n_pairs)`` or ``(n_pairs,)``
    bases : DesignBases
        The designs whose R² feed the statistic.
    stat_from_r2 : callable
        ``(..., n_designs)`` R² -> ``(..., K)`` statistic.
    n_permutations, scheme, seed, pairwise
        As in :func:`permutation_test`.
    max_elements : int
        Bound on the values of one batch's projection ``Y @ [Q_σ1 | ...]``.

    Returns
    -------
    PermutationResult
        ``observed`` and ``p`` ``(n, K)`` (``(K,)`` for one RDM), ``p_diff`` ``(n, K, K)``.
    """
    _check_scheme(scheme)
    Y = np.asarray(y)
    single = Y.ndim == 1
    if single:
        Y = Y[None, :]
    if Y.ndim == 2:
        bases.check_size(Y.shape[1])
    if Y.ndim != 2 or Y.shape[1] != bases.n_pairs:
        raise ValueError(f"y must be (n, {bases.n_pairs}); got {np.asarray(y).shape}")
    if not np.all(np.isfinite(Y)):
        raise ValueError("y contains NaN or infinite values; drop those RDMs first")
    Yd = Y.astype(bases.dtype, copy=False)
    ss_tot = total_ss(Y)
    n_q = bases.Q.shape[1]

    def stat_of(ss: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(stat_from_r2(ss / ss_tot[:, None]), dtype=np.float64)

    observed = stat_of(bases.ss_reg(Yd))
    counts = _Counts(observed, pairwise)
    batch = max(1, int(max_elements // max(1, Y.shape[0] * max(1, n_q))))
    for idx in iter_permutation_indices(
        bases.n_pairs, n_permutations, scheme=scheme, seed=seed, batch_size=batch
    ):
        inv = np.argsort(idx, axis=1)
        Qcat = np.concatenate([bases.Q[inv[b]] for b in range(inv.shape[0])], axis=1)
        proj = Yd @ Qcat
        for b in range(inv.shape[0]):
            s = stat_of(bases.ss_from_projection(proj[:, b * n_q : (b + 1) * n_q]))
            counts.count += s >= observed
            if pairwise:
                counts.add_pairwise(s)
    p, p_diff = counts.p_values(n_permutations)
    if single:
        observed, p = observed[0], p[0]
        p_diff = None if p_diff is None else p_diff[0]
    return PermutationResult(observed, p, p_diff, int(n_permutations), scheme)
