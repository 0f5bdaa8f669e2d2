"""Error bars by bootstrapping conditions, as Dwivedi et al. (2021) computed them.

A bootstrap of 90 % of the conditions drawn *without* replacement (the original
``get_errobars_bootstrap_stimuli``); the error bar is the SD of the draws with ``ddof=1``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from numpy.typing import ArrayLike

from brainalign.rsa.condensed import n_conditions_from_pairs
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
        Fraction of conditions kept, ``int(ratio * n_conditions)``.

    Returns
    -------
    ndarray ``(n_bootstrap, ...)``
        The draws; their ``std(axis=0, ddof=1)`` is the original's error bar.
    """
    Y = np.asarray(y, dtype=np.float64)
    if Y.ndim != 1:
        raise ValueError(f"y must be one condensed RDM (n_pairs,); got {Y.shape}")
    n = n_conditions_from_pairs(Y.shape[0])
    k = int(float(ratio) * n)
    if not 0 < float(ratio) <= 1 or k < 3:
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
    for _ in range(int(n_bootstrap)):
        sel = rng.choice(n, size=k, replace=False)
        ci = subset_condensed_index(sel, n)
        draws.append(np.asarray(statistic(Y[ci], {m: X[ci] for m, X in sets.items()})))
    return np.stack(draws)
