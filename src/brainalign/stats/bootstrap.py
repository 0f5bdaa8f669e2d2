"""Error bars by resampling conditions.

``replace=False`` (faithful): 90 % of the conditions drawn *without* replacement (the original
``get_errobars_bootstrap_stimuli`` of Dwivedi et al. 2021); the SD of those draws is not a standard
error (subsamples overlap in 90 % of their conditions, so it is far too small).

``replace=True`` (corrected): ``n`` conditions drawn *with* replacement, the sub-RDM holding every
pair of drawn conditions except pairs of two copies of one condition (their dissimilarity is not
observed); the SD of the draws (``ddof=1``) is the bootstrap standard error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np
from numpy.typing import ArrayLike

from brainalign.rsa.condensed import condensed_index_pairs, n_conditions_from_pairs, pair_index
from brainalign.stats.permutation import Seed, rng_from_seed, subset_condensed_index

__all__ = [
    "bootstrap_conditions",
    "bootstrap_difference_p",
    "bootstrap_difference_p_many",
    "difference_counts",
    "iter_bootstrap_indices",
]


def iter_bootstrap_indices(
    n_conditions: int,
    n_bootstrap: int,
    *,
    ratio: float = 0.9,
    seed: Seed = 0,
    replace: bool = False,
) -> Iterator[np.ndarray]:
    """Condensed indices of each draw's sub-RDM (see the module docstring for the two kinds)."""
    n = int(n_conditions)
    k = int(float(ratio) * n)
    if not replace and (not 0 < float(ratio) <= 1 or k < 3):
        raise ValueError(f"ratio={ratio} keeps {k} of {n} conditions; need at least 3")
    if int(n_bootstrap) < 2:
        raise ValueError(f"n_bootstrap must be >= 2; got {n_bootstrap}")
    rng = rng_from_seed(seed)
    iu, ju = condensed_index_pairs(n)
    for _ in range(int(n_bootstrap)):
        if replace:
            sel = rng.integers(n, size=n)
            a, b = sel[iu], sel[ju]
            yield pair_index(n, a[a != b], b[a != b])
        else:
            yield subset_condensed_index(rng.choice(n, size=k, replace=False), n)


def bootstrap_difference_p(draws: ArrayLike) -> np.ndarray:
    """Two-sided bootstrap p-values of the pairwise differences of a statistic.

    ``draws`` ``(B, ..., K)``: the statistic on ``B`` bootstrap samples.  For each pair
    ``p[..., i, j] = min(1, 2 min((#{d* <= 0} + 1) / (B + 1), (#{d* >= 0} + 1) / (B + 1)))`` with
    ``d* = draws[..., i] - draws[..., j]``; the diagonal is 1.
    """
    D = np.asarray(draws, dtype=np.float64)
    d = D[..., :, None] - D[..., None, :]
    return difference_counts((d <= 0).sum(axis=0), (d >= 0).sum(axis=0), D.shape[0])


def difference_counts(n_le: ArrayLike, n_ge: ArrayLike, n_bootstrap: int) -> np.ndarray:
    """:func:`bootstrap_difference_p` from the counts of draws with ``d* <= 0`` and ``d* >= 0``."""
    b = float(n_bootstrap) + 1.0
    le, ge = np.asarray(n_le, dtype=np.float64), np.asarray(n_ge, dtype=np.float64)
    p = np.minimum(1.0, 2.0 * np.minimum((le + 1.0) / b, (ge + 1.0) / b))
    eye = np.eye(p.shape[-1], dtype=bool)
    p[..., eye] = 1.0
    return p


def bootstrap_conditions(
    y: ArrayLike,
    model_sets: Mapping[str, ArrayLike],
    statistic: Callable[[np.ndarray, dict[str, np.ndarray]], ArrayLike],
    *,
    n_bootstrap: int = 10_000,
    ratio: float = 0.9,
    seed: Seed = 0,
    replace: bool = False,
) -> np.ndarray:
    """Statistic on random subsets of conditions drawn without replacement (the original's
    ``get_errobars_bootstrap_stimuli``; 45 of 50 conditions with ``ratio=0.9``).

    Parameters
    ----------
    y : array ``(n_pairs,)``
        Condensed brain RDM.
    model_sets : mapping name -> array ``(n_pairs, p)``
        Predictors (layer RDMs) of every model / group.
    statistic : callable
        ``statistic(y_sub, {name: X_sub})`` -> array; evaluated once per draw.
    n_bootstrap : int
    ratio : float
        Fraction of conditions kept, ``int(ratio * n_conditions)`` (only with ``replace=False``).
    replace : bool
        Draw all ``n`` conditions with replacement (the bootstrap; ``ratio`` is not used).

    Returns
    -------
    ndarray ``(n_bootstrap, ...)``
        The draws; their ``std(axis=0, ddof=1)`` is the original's error bar (``replace=False``) or
        the bootstrap standard error (``replace=True``).
    """
    Y = np.asarray(y, dtype=np.float64)
    if Y.ndim != 1:
        raise ValueError(f"y must be one condensed RDM (n_pairs,); got {Y.shape}")
    n = n_conditions_from_pairs(Y.shape[0])
    sets = {}
    for name, X in model_sets.items():
        Xa = np.asarray(X, dtype=np.float64)
        if Xa.ndim == 1:
            Xa = Xa[:, None]
        if Xa.shape[0] != Y.shape[0]:
            raise ValueError(f"model set {name!r} has {Xa.shape[0]} rows; y has {Y.shape[0]}")
        sets[name] = Xa
    draws = []
    for ci in iter_bootstrap_indices(n, n_bootstrap, ratio=ratio, seed=seed, replace=replace):
        draws.append(np.asarray(statistic(Y[ci], {m: X[ci] for m, X in sets.items()})))
    return np.stack(draws)


def bootstrap_difference_p_many(
    Y: ArrayLike,
    model_sets: Mapping[str, ArrayLike],
    statistic: Callable[[np.ndarray, dict[str, np.ndarray], np.ndarray], np.ndarray],
    *,
    n_bootstrap: int = 1000,
    seed: Seed = 0,
    batch_size: int = 32,
) -> np.ndarray:
    """:func:`bootstrap_difference_p` for many brain RDMs that share the predictors.

    Each draw takes ``n`` conditions with replacement (the corrected bootstrap of
    :func:`iter_bootstrap_indices`), the same for every RDM.  A draw is handed to ``statistic``
    as the multiplicities of the condensed entries it holds (a refit on the drawn entries is a
    weighted fit on all of them, e.g. :func:`brainalign.rsa.partition.unique_r2_draws`), so
    ``Y`` is never copied per draw, and ``batch_size`` draws go in one call.  Only the counts of
    ``d* <= 0`` and ``d* >= 0`` are kept, so memory does not grow with ``n_bootstrap``.

    Parameters
    ----------
    Y : array ``(m, n_pairs)``
        Condensed brain RDMs (e.g. the kept searchlights).
    model_sets : mapping name -> array ``(n_pairs, p)``
        Predictors shared by all RDMs.
    statistic : callable
        ``statistic(Y (m, n_pairs), {name: X (n_pairs, p)}, W (B, n_pairs)) -> (B, m, K)``: the
        statistic of every RDM on each of ``B`` draws with entry multiplicities ``W``.
    n_bootstrap : int
    seed : int or Generator
    batch_size : int
        Draws per call of ``statistic``.

    Returns
    -------
    ndarray ``(m, K, K)``
        Two-sided bootstrap p-values of ``stat_i - stat_j`` (diagonal 1).
    """
    Ya = np.asarray(Y)
    if Ya.ndim != 2:
        raise ValueError(f"Y must be (m, n_pairs); got {Ya.shape}")
    n = n_conditions_from_pairs(Ya.shape[1])
    sets = {k: np.asarray(v) for k, v in model_sets.items()}
    le = ge = None
    draws = iter_bootstrap_indices(n, n_bootstrap, seed=seed, replace=True)
    for start in range(0, int(n_bootstrap), int(batch_size)):
        rows = [next(draws) for _ in range(min(int(batch_size), int(n_bootstrap) - start))]
        W = np.stack([np.bincount(ci, minlength=Ya.shape[1]) for ci in rows])
        for s in np.asarray(statistic(Ya, sets, W)):
            d = s[:, :, None] - s[:, None, :]
            if le is None:
                le = np.zeros(d.shape, np.int64)
                ge = np.zeros(d.shape, np.int64)
            le += d <= 0
            ge += d >= 0
    return difference_counts(le, ge, n_bootstrap)
