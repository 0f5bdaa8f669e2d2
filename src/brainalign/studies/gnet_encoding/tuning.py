"""Feature-group tuning of GNet's readout (methods §4.3, the original ``src/tuning.py``).

GNet's readout has 512 feature weights per voxel (fmap0 = c3[128] + c4a[:64] + c4b[:64],
fmap1 = c5a[:64] + c5b[:64] + c6a[:64] + c6b[64]; §4.2). For each group of a partition:
*inclusion* accuracy = val r with all other weights zeroed, *exclusion* accuracy = val r with
the group's weights zeroed; each over 64 bootstrap resamples of the validation trials (with
replacement, the same resamples for every condition) -> mean and SD (the bootstrap SE).
Unique % variance = (r_tot² − r_excl²) / r_tot² · 100, shared (inclusion) % =
r_incl² / r_tot² · 100, ROI averages weighted by r_tot² over voxels with r_tot > 0.055.
Each voxel's *preferred* group is the one whose features alone predict it best (the largest
inclusion accuracy; the paper's feature-layer maps colour voxels by it); per ROI the share of
voxels preferring each group shows which layers the area draws on, and the mean of its voxels'
group indices is the area's *layer assignment* (:func:`layer_assignment`, as the voxel-wise
layer assignment of Güçlü & van Gerven 2015, averaged per area).

The model-facing part is a callable ``predict_fn(mask) -> (n_trials, n_voxels)`` that predicts
the validation trials with the readout weights outside the boolean ``mask`` (n_features,) set to
zero, so the analysis runs without a network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from brainalign.stats.encoding import roi_summary, voxel_accuracy

__all__ = [
    "N_FEATURES",
    "TuningResult",
    "layer_assignment",
    "layer_groups",
    "nearest_group",
    "preferred_groups",
    "preferred_layer_codes",
    "result_from_table",
    "tuning_accuracy",
    "variance_partition_tuning",
]

N_FEATURES = 512
R_THRESHOLD = 0.055

_LAYERS = ("c3", "c4a", "c4b", "c5a", "c5b", "c6a", "c6b")


def layer_groups(trunk_width: int = 64, c3_width: int = 128) -> dict[str, dict[str, np.ndarray]]:
    """The two partitions of GNet's readout features (§4.3).

    Parameters
    ----------
    trunk_width : int
        The encoder's trunk width tw (the paper 64): fmap0 = c3 (``c3_width``) + c4a[:tw] +
        c4b[:tw], fmap1 = c5a[:tw] + c5b[:tw] + c6a[:tw] + c6b (tw).
    c3_width : int

    Returns
    -------
    dict
        ``"layerwise"``: c3, c4a, c4b, c5a, c5b, c6a, c6b; ``"bipartite"``: fmap0 and fmap1.
        Values are integer index arrays into the readout features. With tw = 64: c3 [0:128],
        c4a [128:192], c4b [192:256], c5a [256:320], c5b [320:384], c6a [384:448],
        c6b [448:512]; fmap0 [0:256], fmap1 [256:512].
    """
    sizes = [c3_width] + [trunk_width] * 6
    edges = np.cumsum([0, *sizes])
    layerwise = {
        n: np.arange(lo, hi) for n, lo, hi in zip(_LAYERS, edges[:-1], edges[1:], strict=True)
    }
    split = c3_width + 2 * trunk_width
    return {
        "layerwise": layerwise,
        "bipartite": {"fmap0": np.arange(0, split), "fmap1": np.arange(split, edges[-1])},
    }


@dataclass(frozen=True)
class TuningResult:
    """Bootstrap accuracies of one partition.

    Attributes
    ----------
    groups : tuple of str
        Group names, the order of the first axis of the (g, v) arrays.
    total, total_se : ndarray (v,)
        Bootstrap mean and SD of val r with all features.
    inclusion, inclusion_se, exclusion, exclusion_se : ndarray (g, v)
        The same with only / without each group.
    """

    groups: tuple[str, ...]
    total: np.ndarray
    total_se: np.ndarray
    inclusion: np.ndarray
    inclusion_se: np.ndarray
    exclusion: np.ndarray
    exclusion_se: np.ndarray


def _bootstrap_r(
    pred: np.ndarray, target: np.ndarray, draws: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    rs = np.stack([voxel_accuracy(pred[idx], target[idx])[0] for idx in draws])
    return rs.mean(axis=0), rs.std(axis=0, ddof=1) if len(draws) > 1 else np.zeros(rs.shape[1])


def tuning_accuracy(
    predict_fn: Callable[[np.ndarray], ArrayLike],
    target: ArrayLike,
    groups: Mapping[str, ArrayLike],
    n_boot: int = 64,
    seed: int | np.random.Generator = 0,
    n_features: int = N_FEATURES,
) -> TuningResult:
    """Inclusion and exclusion accuracy per feature group, with bootstrap SE over trials.

    Parameters
    ----------
    predict_fn : callable
        ``predict_fn(mask)`` with a boolean ``mask`` (n_features,) returns predictions
        (n_trials, n_voxels) with the readout weights outside ``mask`` zeroed.
    target : array_like (n_trials, n_voxels)
        Validation data (single trials).
    groups : mapping name -> index array
        One partition, e.g. ``layer_groups()["layerwise"]``.
    n_boot : int
        Bootstrap resamples of the trials (with replacement), shared by all conditions.
    seed : int or Generator
        Seed of the resamples (derive it with ``pipeline.seeds.derive_seed``).
    n_features : int
        Length of the mask.

    Returns
    -------
    TuningResult
    """
    y = np.asarray(target, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"target must be (n_trials, n_voxels), got {y.shape}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, y.shape[0], size=(n_boot, y.shape[0]))

    def run(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pred = np.asarray(predict_fn(mask), dtype=np.float64)
        if pred.shape != y.shape:
            raise ValueError(f"predict_fn returned {pred.shape}, target is {y.shape}")
        return _bootstrap_r(pred, y, draws)

    total, total_se = run(np.ones(n_features, dtype=bool))
    inc, exc = [], []
    for idx in groups.values():
        mask = np.zeros(n_features, dtype=bool)
        mask[np.asarray(idx)] = True
        inc.append(run(mask))
        exc.append(run(~mask))
    return TuningResult(
        groups=tuple(groups),
        total=total,
        total_se=total_se,
        inclusion=np.stack([m for m, _ in inc]),
        inclusion_se=np.stack([s for _, s in inc]),
        exclusion=np.stack([m for m, _ in exc]),
        exclusion_se=np.stack([s for _, s in exc]),
    )


def preferred_groups(result: TuningResult, threshold: float | None = None) -> np.ndarray:
    """Each voxel's preferred group: the one whose features alone predict it best.

    Parameters
    ----------
    result : TuningResult
        From :func:`tuning_accuracy` (bootstrap means are used).
    threshold : float, optional
        Voxels with ``result.total <= threshold`` (or NaN) get -1.

    Returns
    -------
    ndarray (n_voxels,) int64
        Index into ``result.groups`` of the largest inclusion accuracy (ties: the earlier
        group), -1 where no group has a finite accuracy or the voxel is below ``threshold``.
    """
    inc = np.where(np.isfinite(result.inclusion), result.inclusion, -np.inf)
    best = np.argmax(inc, axis=0).astype(np.int64)
    ok = np.isfinite(result.inclusion).any(axis=0)
    if threshold is not None:
        ok &= np.asarray(result.total, dtype=np.float64) > threshold
    return np.where(ok, best, -1)


def nearest_group(mean_layer: float, groups: Sequence[str]) -> str:
    """The group whose index is nearest to a mean layer index (halfway: the earlier one)."""
    return str(groups[int(np.ceil(mean_layer - 0.5))])


def layer_assignment(
    preferred: ArrayLike,
    rois: ArrayLike,
    groups: Sequence[str],
    *,
    order: Sequence[str] | None = None,
    n_permutations: int = 10_000,
    seed: int | np.random.Generator | np.random.SeedSequence = 0,
) -> pd.DataFrame:
    """Each ROI's layer assignment: the mean preferred-group index of its voxels.

    The preferred group of a voxel (:func:`preferred_groups`) is its layer assignment; an
    area's assignment is the mean over its voxels, as an index into ``groups`` (c3 = 0 …
    c6b = 6), with the group nearest to it. Each ROI after the first is compared with the
    first (V1): is its mean later? One-sided permutation test of the difference of means, the
    ROI labels of the two areas' voxels shuffled (``scipy.stats.permutation_test``,
    p = (1 + #{null >= observed}) / (1 + n_permutations); exact when there are fewer distinct
    relabellings). Voxels are treated as exchangeable units, as in voxel-wise layer-assignment
    analyses; the test asks whether the two areas' assignments differ for this fitted model,
    not across networks trained with other seeds.

    Parameters
    ----------
    preferred : array_like (n_voxels,) int
        Preferred-group index per voxel; negative = not analysed (below the r threshold).
    rois : array_like (n_voxels,)
        ROI label per voxel.
    groups : sequence of str
        Group names in depth order (``preferred`` indexes them).
    order : sequence of str, optional
        The ROIs reported, in hierarchy order (e.g. V1, V2, V3, hV4), the first with voxels
        being the reference; listed ROIs without voxels are left out. Default: every ROI, in
        order of first occurrence.
    n_permutations : int
    seed : int, Generator or SeedSequence
        Seed of the relabellings (derive it from the config).

    Returns
    -------
    DataFrame
        One row per ROI: ``roi``, ``n_voxels`` (analysed), ``mean_layer``, ``mean_layer_se``
        (SD / sqrt(n)), ``assigned_group`` (the group nearest ``mean_layer``; halfway: the
        earlier), ``reference`` (the first ROI), ``difference`` (``mean_layer`` minus the
        reference's) and ``p_later`` (NaN for the reference itself and where either area has
        fewer than two analysed voxels).
    """
    from scipy.stats import permutation_test

    best = np.asarray(preferred)
    labels = np.asarray(rois)
    if best.shape != labels.shape or best.ndim != 1:
        raise ValueError(f"preferred {best.shape} and rois {labels.shape} must be equal 1-D")
    names = list(groups)
    if best.size and best.max() >= len(names):
        raise ValueError(f"preferred group index {best.max()} is outside the {len(names)} groups")
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be >= 1, got {n_permutations}")
    rng = np.random.default_rng(seed)
    present = list(pd.unique(labels))
    wanted = present if order is None else list(order)
    order = [r for r in wanted if r in present]
    if not order:
        raise ValueError(f"none of the ROIs {wanted} has voxels (ROIs of the voxels: {present})")
    layers = {roi: best[(labels == roi) & (best >= 0)].astype(np.float64) for roi in order}

    def diff(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
        return np.mean(x, axis=axis) - np.mean(y, axis=axis)

    ref = layers[order[0]]
    rows = []
    for roi in order:
        x = layers[roi]
        mean = float(x.mean()) if x.size else np.nan
        p = np.nan
        if roi != order[0] and x.size > 1 and ref.size > 1:
            p = float(
                permutation_test(
                    (x, ref),
                    diff,
                    permutation_type="independent",
                    vectorized=True,
                    n_resamples=int(n_permutations),
                    alternative="greater",
                    rng=rng,
                ).pvalue
            )
        rows.append(
            {
                "roi": roi,
                "n_voxels": int(x.size),
                "mean_layer": mean,
                "mean_layer_se": float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else np.nan,
                "assigned_group": nearest_group(mean, names) if x.size else "",
                "reference": order[0],
                "difference": mean - float(ref.mean()) if x.size and ref.size else np.nan,
                "p_later": p,
            }
        )
    return pd.DataFrame(rows)


def variance_partition_tuning(
    result: TuningResult, rois: ArrayLike, threshold: float = R_THRESHOLD
) -> pd.DataFrame:
    """Unique and shared % variance per group and ROI (r_tot²-weighted, r_tot > threshold).

    Parameters
    ----------
    result : TuningResult
        From :func:`tuning_accuracy` (bootstrap means are used).
    rois : array_like (n_voxels,)
        ROI label per voxel.
    threshold : float
        Voxels with ``result.total > threshold`` enter the averages (§4.3: 0.055).

    Returns
    -------
    DataFrame
        Rows ``roi`` × ``group``: ``n_used``, ``unique_percent``, ``shared_percent`` (the
        r_tot²-weighted means of the voxel-wise percentages), ``inclusion_r`` and
        ``exclusion_r`` (r_tot²-weighted means of the accuracies), ``n_preferred`` and
        ``preferred_percent`` (the used voxels whose preferred group it is,
        :func:`preferred_groups`; unweighted, 100 × n_preferred / n_used).
    """
    r_tot = result.total
    w = r_tot**2
    with np.errstate(invalid="ignore", divide="ignore"):
        unique = (w - result.exclusion**2) / w * 100.0
        shared = result.inclusion**2 / w * 100.0
    best = preferred_groups(result, threshold)
    labels = np.asarray(rois)
    # the analysed voxels of each ROI, in roi_summary's row order (first occurrence)
    analysed = [(labels == roi) & (best >= 0) for roi in pd.unique(labels)]
    n_ok = np.array([m.sum() for m in analysed])
    frames = []
    for g, name in enumerate(result.groups):
        cols = {
            "unique_percent": unique[g],
            "shared_percent": shared[g],
            "inclusion_r": result.inclusion[g],
            "exclusion_r": result.exclusion[g],
        }
        table = None
        for col, values in cols.items():
            s = roi_summary(values, rois, weights=w, threshold=threshold, threshold_on=r_tot)
            if table is None:
                table = s[["roi", "n_used"]].copy()
            table[col] = s["weighted_mean"].to_numpy()
        n_pref = np.array([np.sum(m & (best == g)) for m in analysed])
        table["n_preferred"] = n_pref
        with np.errstate(invalid="ignore", divide="ignore"):
            table["preferred_percent"] = n_pref / n_ok * 100.0
        table.insert(1, "group", name)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def result_from_table(block: pd.DataFrame) -> tuple[TuningResult, pd.DataFrame]:
    """The :class:`TuningResult` stored in one partition's rows of a per-voxel tuning table.

    Parameters
    ----------
    block : DataFrame
        Rows of one subject (or pooled subjects) and one partition: group, total, total_se,
        inclusion, inclusion_se, exclusion, exclusion_se, ... with the voxels in the same order
        within every group.

    Returns
    -------
    (TuningResult, DataFrame)
        The result (groups in order of appearance) and the rows of its first group (one per
        voxel, in the result's voxel order).
    """
    groups = list(pd.unique(block["group"]))
    first = block[block["group"] == groups[0]]

    def stack(col: str) -> np.ndarray:
        return np.stack([block.loc[block["group"] == g, col].to_numpy() for g in groups])

    result = TuningResult(
        groups=tuple(groups),
        total=first["total"].to_numpy(),
        total_se=first["total_se"].to_numpy(),
        inclusion=stack("inclusion"),
        inclusion_se=stack("inclusion_se"),
        exclusion=stack("exclusion"),
        exclusion_se=stack("exclusion_se"),
    )
    return result, first


def preferred_layer_codes(
    voxels: pd.DataFrame, subject: str, n_voxels: int, threshold: float
) -> np.ndarray:
    """One subject's feature-layer map: 1 + the index of each voxel's preferred layer group.

    Parameters
    ----------
    voxels : DataFrame
        The tuning job's voxel table (subject, voxel, partition, group, total, inclusion, ...).
    subject : str
    n_voxels : int
        Voxels of the subject's prepared archive (the order of ``voxel``).
    threshold : float
        Voxels with total validation r <= threshold get 0.

    Returns
    -------
    ndarray (n_voxels,) int16
        0 = below threshold or not in the table; k = the k-th layerwise group (1 = c3 …
        7 = c6b).
    """
    block = voxels[(voxels["subject"] == subject) & (voxels["partition"] == "layerwise")]
    if block.empty:
        raise ValueError(f"the tuning table has no layerwise rows for subject {subject!r}")
    result, first = result_from_table(block)
    codes = np.zeros(int(n_voxels), dtype=np.int16)
    index = first["voxel"].to_numpy()
    bad = index[(index < 0) | (index >= n_voxels)]
    if bad.size:
        raise ValueError(f"voxel {bad[0]} of {subject!r} is outside its {n_voxels} voxels")
    codes[index] = preferred_groups(result, threshold) + 1
    return codes
