"""RDMs and noise ceilings from repeated trials, vectorised over resamples.

For responses of shape ``(n_trials, n_conditions, n_units)`` (e.g. the pseudo-population of a
mouse visual area, Allen Brain Observatory):

* :func:`half_mean_rdms`: RDMs (1 − Pearson across units) of the mean over a random half of the
  trials, one per draw (Crijnen 2024's 100 bootstrap brain RDMs);
* :func:`half_rdm_pairs`: the RDMs of two disjoint random halves per split, for the split-half
  noise ceiling (:func:`brainalign.rsa.noise_ceiling.split_half_ceiling`).

All draws for a call come from one ``numpy.random.Generator`` seeded by ``seed``; the means of all
draws of a batch are one matrix product and their correlation RDMs one batched product (no loop
of ``np.corrcoef``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from brainalign.rsa.condensed import condensed_index_pairs

__all__ = [
    "check_trials",
    "correlation_rdms",
    "half_mean_rdms",
    "half_rdm_pairs",
    "half_selections",
]


def check_trials(responses: ArrayLike) -> np.ndarray:
    x = np.asarray(responses, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"responses must be (n_trials, n_conditions, n_units); got {x.shape}")
    if x.shape[0] < 2 or x.shape[1] < 3 or x.shape[2] < 2:
        raise ValueError(f"need at least 2 trials, 3 conditions and 2 units; got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("responses contain NaN or inf")
    return x


def correlation_rdms(patterns: ArrayLike) -> np.ndarray:
    """Condensed 1 − Pearson RDMs of many pattern sets at once.

    Parameters
    ----------
    patterns : array ``(B, n_conditions, n_units)``

    Returns
    -------
    ndarray ``(B, n_pairs)`` float64, pairs in ``np.triu_indices(n_conditions, 1)`` order.

    Raises
    ------
    ValueError
        When a condition's pattern is constant across units in some set (its correlation is
        undefined), naming the set and the condition.
    """
    x = np.asarray(patterns, dtype=np.float64)
    xc = x - x.mean(axis=2, keepdims=True)
    norms = np.sqrt(np.einsum("bcu,bcu->bc", xc, xc))
    if np.any(norms == 0):
        b, c = np.argwhere(norms == 0)[0]
        raise ValueError(
            f"condition {int(c)} has a constant pattern across units in resample {int(b)}; "
            "its correlation distance is undefined (too few units or responses?)"
        )
    z = xc / norms[:, :, None]
    iu, ju = condensed_index_pairs(x.shape[1])
    corr = np.matmul(z, np.swapaxes(z, 1, 2))
    return 1.0 - corr[:, iu, ju]


def half_selections(n_trials: int, n_draws: int, seed: int | np.random.Generator) -> np.ndarray:
    """``(n_draws, n_trials)`` permutations of the trials; the first ``n_trials // 2`` of each
    row is that draw's half (the rest, up to twice the half, its complement)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return np.stack([rng.permutation(n_trials) for _ in range(int(n_draws))])


def _mean_rdms(x: np.ndarray, rows: np.ndarray, batch: int) -> np.ndarray:
    """RDMs of the means over ``rows`` (``(B, k)`` trial indices), in batches of ``batch``."""
    t, c, u = x.shape
    flat = x.reshape(t, c * u)
    out = []
    for start in range(0, rows.shape[0], batch):
        sel = rows[start : start + batch]
        w = np.zeros((sel.shape[0], t))
        np.put_along_axis(w, sel, 1.0 / sel.shape[1], axis=1)
        out.append(correlation_rdms((w @ flat).reshape(-1, c, u)))
    return np.concatenate(out)


def half_mean_rdms(
    responses: ArrayLike,
    n_draws: int = 100,
    seed: int | np.random.Generator = 0,
    *,
    batch: int = 25,
) -> np.ndarray:
    """RDMs of the mean over a random half of the trials, one per draw.

    Parameters
    ----------
    responses : array ``(n_trials, n_conditions, n_units)``
    n_draws : int
        Number of resampled RDMs (the original: 100).
    seed : int or Generator
    batch : int
        Draws per vectorised batch (memory ``batch × n_conditions × n_units``).

    Returns
    -------
    ndarray ``(n_draws, n_pairs)``
    """
    x = check_trials(responses)
    half = x.shape[0] // 2
    rows = half_selections(x.shape[0], n_draws, seed)[:, :half]
    return _mean_rdms(x, rows, batch)


def half_rdm_pairs(
    responses: ArrayLike,
    n_splits: int = 100,
    seed: int | np.random.Generator = 0,
    *,
    batch: int = 25,
) -> tuple[np.ndarray, np.ndarray]:
    """RDMs of two disjoint random halves of the trials (``n_trials // 2`` each), per split.

    Returns
    -------
    a, b : ndarray ``(n_splits, n_pairs)``
    """
    x = check_trials(responses)
    half = x.shape[0] // 2
    perm = half_selections(x.shape[0], n_splits, seed)
    return _mean_rdms(x, perm[:, :half], batch), _mean_rdms(x, perm[:, half : 2 * half], batch)
