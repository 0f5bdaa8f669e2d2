"""Error bars by resampling conditions.

``replace=False`` (faithful): 90 % of the conditions drawn *without* replacement (the original
``get_errobars_bootstrap_stimuli`` of Dwivedi et al. 2021); the SD of those draws is not a standard
error (subsamples overlap in 90 % of their conditions, so it is far too small).

``replace=True`` (corrected): ``n`` conditions drawn *with* replacement, the sub-RDM holding every
pair of drawn conditions except pairs of two copies of one condition (their dissimilarity is not
observed); the SD of the draws (``ddof=1``) is the bootstrap standard error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from numpy.typing import ArrayLike

from brainalign.rsa.condensed import condensed_index_pairs, n_conditions_from_pairs, pair_index
from brainalign.stats.permutation import Seed, rng_from_seed, subset_condensed_index

__all__ = ["bootstrap_conditions"]


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
    k = int(float(ratio) * n)
    if not replace and (not 0 < float(ratio) <= 1 or k < 3):
        raise ValueError(f"ratio={ratio} keeps {k} of {n} conditions; need at least 3")
    if int(n_bootstrap) < 2:
        raise ValueError(f"n_bootstrap must be >= 2; got {n_bootstrap}")
    sets = {}
    for name, X in model_sets.items():
        Xa = np.asarray(X, dtype=np.float64)
        if Xa.ndim == 1:
            Xa = Xa[:, None]
        if Xa.shape[0] != Y.shape[0]:
            raise ValueError(f"model set {name!r} has {Xa.shape[0]} rows; y has {Y.shape[0]}")
        sets[name] = Xa
    rng = rng_from_seed(seed)
    draws = []
    iu, ju = condensed_index_pairs(n)
    for _ in range(int(n_bootstrap)):
        if replace:
            sel = rng.integers(n, size=n)
            a, b = sel[iu], sel[ju]
            ci = pair_index(n, a[a != b], b[a != b])
        else:
            ci = subset_condensed_index(rng.choice(n, size=k, replace=False), n)
        draws.append(np.asarray(statistic(Y[ci], {m: X[ci] for m, X in sets.items()})))
    return np.stack(draws)
