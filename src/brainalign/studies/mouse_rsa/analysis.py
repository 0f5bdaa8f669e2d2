"""Mouse RSA (Crijnen 2024): brain RDMs and ceilings per area, model comparisons, statistics.

Pure functions over arrays and tidy frames; the rule scripts read, call these and write.

* brain side: :func:`brain_rdms` (100 half-trial RDMs + the all-trial RDM) and
  :func:`ceiling_rows` (split-half tau-a, raw and Spearman–Brown-corrected);
* model side: layer RDMs are :func:`brainalign.rsa.trials.correlation_rdms` (1 − Pearson);
* :func:`compare_layers`: tau-a of every layer RDM with every half-trial brain RDM (the core's
  exact Kendall kernel; equal to ``rsatoolbox.rdm.compare(method='tau-a')``), the mean over the
  draws, a one-sided Mantel p-value against the all-trial RDM, BH-FDR across layers;
* :func:`family_differences`: the difference between two model families (e.g. pathway 1 vs
  pathway 2) per half-trial draw, with its percentile interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "brain_rdms",
    "ceiling_rows",
    "compare_layers",
    "family_differences",
    "tau_a_many",
]


def brain_rdms(
    responses: ArrayLike, n_draws: int = 100, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Half-trial RDMs ``(n_draws, n_pairs)`` and the all-trial RDM ``(n_pairs,)`` of one
    pseudo-population ``(n_trials, n_conditions, n_cells)``."""
    from brainalign.rsa.trials import correlation_rdms, half_mean_rdms

    x = np.asarray(responses, dtype=np.float64)
    return half_mean_rdms(x, n_draws, seed), correlation_rdms(x.mean(axis=0)[None])[0]


def ceiling_rows(split: Mapping[str, np.ndarray], **keys: object) -> pd.DataFrame:
    """Long table of a split-half ceiling: one row per split and variant (``faithful`` = raw
    tau-a, the original; ``corrected`` = Spearman–Brown-corrected), with ``keys`` as columns."""
    rows = []
    for variant, name in (("faithful", "split"), ("corrected", "spearman_brown")):
        vals = np.asarray(split[name])
        rows.append(pd.DataFrame({**keys, "variant": variant, "split": np.arange(vals.size),
                                  "statistic": "tau_a", "value": vals}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def tau_a_many(x: ArrayLike, ys: ArrayLike) -> np.ndarray:
    """Kendall tau-a of one condensed RDM with each of many ``(B, n_pairs)``, exactly (the
    core's integer kernel, :func:`brainalign.rsa.compare.compare_rdms_many`)."""
    from brainalign.rsa.compare import compare_rdms_many

    return compare_rdms_many(np.asarray(x, dtype=np.float64)[None], ys, "tau_a")[0]


def compare_layers(
    layers: Mapping[str, np.ndarray],
    boot: np.ndarray,
    full: np.ndarray,
    *,
    n_permutations: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Every layer against the brain.

    Returns
    -------
    table : DataFrame
        ``layer, layer_index, value`` (mean tau-a over the half-trial RDMs, the original's
        number), ``sd_draws``, ``tau_a_all_trials``, ``p`` (one-sided Mantel test of the layer
        against the all-trial RDM, conditions permuted; the same permutations for every layer),
        ``p_fdr`` (BH across the layers).
    draws : ndarray ``(n_layers, n_draws)``
        tau-a per layer and half-trial draw (for :func:`family_differences`).
    """
    from brainalign.rsa.compare import compare_rdms_many
    from brainalign.rsa.condensed import n_conditions_from_pairs
    from brainalign.rsa.mantel import draw_permutations, mantel_test
    from brainalign.stats.fdr import fdr_bh

    n = n_conditions_from_pairs(full.size)
    perms = draw_permutations(n, n_permutations, seed)
    # every brain RDM is ranked once for all layers
    all_taus = compare_rdms_many(np.stack([np.asarray(v, np.float64) for v in layers.values()]),
                                 np.asarray(boot, dtype=np.float64), "tau_a")  # fmt: skip
    rows, draws = [], []
    for k, (name, rdm) in enumerate(layers.items()):
        taus = all_taus[k]
        res = mantel_test(rdm, full, "tau_a", permutations=perms, alternative="greater")
        draws.append(taus)
        rows.append({"layer": name, "layer_index": k, "value": float(taus.mean()),
                     "sd_draws": float(taus.std(ddof=1)) if taus.size > 1 else np.nan,
                     "tau_a_all_trials": res.statistic, "p": res.pvalue})  # fmt: skip
    table = pd.DataFrame(rows)
    table["p_fdr"] = fdr_bh(table["p"].to_numpy(), alpha=alpha)[1]
    return table, np.array(draws)


def family_differences(
    draws: Mapping[str, np.ndarray], pairs: Sequence[Sequence[str]], ci: float = 0.95
) -> pd.DataFrame:
    """Difference of the mean tau-a of two model families, per half-trial draw.

    Parameters
    ----------
    draws : mapping family -> array ``(n_members, n_draws)``
        tau-a of each member (layer × model seed) with each half-trial brain RDM.
    pairs : sequence of (family_a, family_b)

    Returns
    -------
    DataFrame ``family_a, family_b, value`` (mean difference), ``ci_low, ci_high`` (percentile
    interval over the draws; conservative: each draw uses half the trials), ``p`` (two-sided,
    share of draws on the other side of zero, doubled), ``n_draws``.
    """
    rows = []
    lo, hi = (1 - ci) / 2, 1 - (1 - ci) / 2
    for a, b in pairs:
        d = np.asarray(draws[a]).mean(axis=0) - np.asarray(draws[b]).mean(axis=0)
        side = min(np.mean(d <= 0), np.mean(d >= 0))
        rows.append({"family_a": a, "family_b": b, "value": float(d.mean()),
                     "ci_low": float(np.quantile(d, lo)), "ci_high": float(np.quantile(d, hi)),
                     "p": float(min(1.0, 2 * (side * d.size + 1) / (d.size + 1))),
                     "n_draws": int(d.size)})  # fmt: skip
    return pd.DataFrame(rows)
