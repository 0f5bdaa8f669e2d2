"""The study's tables from the per-job outputs (pure pandas; methods §4.3-4.4).

Per-voxel accuracy with the single-trial NSD noise ceiling and the fraction of explainable
variance; ROI summaries per subject and pooled (``all``); GNet8j against GNet8r; the transfer
matrix and its asymmetry index; the r²-weighted tuning percentages, the share of voxels
preferring each group and each ROI's layer assignment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from brainalign.rsa.noise_ceiling import ncsnr_noise_ceiling
from brainalign.stats.encoding import compare_models, explainable_fraction, roi_summary
from brainalign.studies.gnet_encoding.names import JOINT, PER_ROI
from brainalign.studies.gnet_encoding.transfer import asymmetry_index, transfer_matrix
from brainalign.studies.gnet_encoding.tuning import (
    layer_assignment,
    preferred_groups,
    result_from_table,
    variance_partition_tuning,
)

__all__ = [
    "ALL",
    "accuracy_table",
    "comparison_table",
    "summary_table",
    "transfer_tables",
    "tuning_assignment_table",
    "tuning_table",
]

#: Subject label of pooled rows.
ALL = "all"
_KEYS = ["subject", "roi", "voxel"]


def accuracy_table(frames: Sequence[pd.DataFrame], ncsnr: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Stack per-model accuracy; GNet8r ROIs become one model; add ceiling and explainable %.

    Parameters
    ----------
    frames : sequence of DataFrame
        subject, roi, voxel, model, r, r2 (``gnet8r_<roi>`` models hold their ROI's voxels).
    ncsnr : mapping subject -> array (n_voxels,)
        Indexed by ``voxel``.

    Returns
    -------
    DataFrame
        subject, roi, voxel, model, r, r2, ceiling, explainable_percent.
    """
    cols = [*_KEYS, "model", "r", "r2"]
    table = pd.concat([f[cols] for f in frames], ignore_index=True)
    table["model"] = table["model"].str.replace(rf"^{PER_ROI}_.*$", PER_ROI, regex=True)
    nc = {s: ncsnr_noise_ceiling(v, n_trials=1) for s, v in ncsnr.items()}
    table["ceiling"] = [nc[s][v] for s, v in zip(table["subject"], table["voxel"], strict=True)]
    table["explainable_percent"] = explainable_fraction(table["r2"], table["ceiling"])
    return table.sort_values(["model", "subject", "voxel"], kind="stable").reset_index(drop=True)


def _with_all(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    return [(str(s), g) for s, g in table.groupby("subject", sort=True)] + [(ALL, table)]


def summary_table(accuracy: pd.DataFrame, threshold: float | None = None) -> pd.DataFrame:
    """ROI summaries of each model per subject and pooled (median, mean, r²-weighted mean r)."""
    rows = []
    for subject, sub in _with_all(accuracy):
        for model, m in sub.groupby("model", sort=False):
            s = roi_summary(m["r"], m["roi"], threshold=threshold)
            for _, row in s.iterrows():
                sel = m[m["roi"] == row["roi"]]
                r2 = 100.0 * float(sel["r2"].mean())
                nc = float(sel["ceiling"].mean())
                rows.append(
                    {
                        "subject": subject,
                        "roi": row["roi"],
                        "model": model,
                        "n_voxels": row["n_voxels"],
                        "n_used": row["n_used"],
                        "median_r": row["median"],
                        "mean_r": row["mean"],
                        "weighted_mean_r": row["weighted_mean"],
                        "mean_r2_percent": r2,
                        "ceiling_percent": nc,
                        "explainable_percent": 100.0 * r2 / nc if nc > 0 else float("nan"),
                    }
                )
    return pd.DataFrame(rows)


def comparison_table(accuracy: pd.DataFrame, a: str = JOINT, b: str = PER_ROI) -> pd.DataFrame:
    """Voxel-wise model a vs model b per subject (and pooled) and ROI (and all ROIs)."""
    wide = accuracy.pivot_table(index=_KEYS, columns="model", values="r", sort=False)
    wide = wide.reset_index()
    rows = []
    for subject, sub in _with_all(wide):
        parts = [(str(r), g) for r, g in sub.groupby("roi", sort=False)] + [("all", sub)]
        for roi, g in parts:
            c = compare_models(g[a], g[b])
            kept = {k: v for k, v in c.items() if k not in ("difference", "mean")}
            rows.append({"subject": subject, "roi": roi, "model_a": a, "model_b": b, **kept})
    return pd.DataFrame(rows)


def _subject_rows(series: pd.Series, subject: str) -> pd.Series:
    if subject == ALL:
        return series
    return series[series.index.get_level_values("subject") == subject]


def transfer_tables(
    transfer: pd.DataFrame, accuracy: pd.DataFrame, rois: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Transfer matrices and asymmetry indices per subject and pooled.

    Parameters
    ----------
    transfer : DataFrame
        source, subject, roi, voxel, r: validation r of the frozen ``source`` encoder with fresh
        readouts, for all voxels.
    accuracy : DataFrame
        The accuracy table; its ``gnet8r`` rows are the native models.
    rois : sequence of str
        Hierarchy order.

    Returns
    -------
    matrix : DataFrame
        subject, source, target, value.
    asymmetry : DataFrame
        subject, alpha, alpha_se.
    """
    native = accuracy[accuracy["model"] == PER_ROI].set_index(_KEYS)["r"]
    moved = transfer.set_index(["source", *_KEYS])["r"]
    mats, alphas = [], []
    for subject, _ in _with_all(transfer):
        nat = _subject_rows(native, subject)
        r_native = {t: nat.xs(t, level="roi").to_numpy() for t in rois}
        r_transfer = {}
        for src in rois:
            m = _subject_rows(moved.xs(src, level="source"), subject)
            for t in rois:
                sel = nat.xs(t, level="roi", drop_level=False).index
                r_transfer[(src, t)] = m.reindex(sel).to_numpy()
        mat = transfer_matrix(r_native, r_transfer, order=list(rois))
        alpha, se = asymmetry_index(mat)
        long = mat.stack().rename("value").reset_index()
        long.insert(0, "subject", subject)
        mats.append(long)
        alphas.append({"subject": subject, "alpha": alpha, "alpha_se": se})
    return pd.concat(mats, ignore_index=True), pd.DataFrame(alphas)


def tuning_table(voxels: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """r²-weighted unique / shared % variance and accuracies per group and ROI (§4.3), and the
    share of each ROI's voxels preferring each group."""
    frames = []
    for subject, sub in _with_all(voxels):
        for part, p in sub.groupby("partition", sort=False):
            result, first = result_from_table(p)
            table = variance_partition_tuning(result, first["roi"].to_numpy(), threshold)
            table.insert(0, "partition", part)
            table.insert(0, "subject", subject)
            frames.append(table)
    return pd.concat(frames, ignore_index=True)


def tuning_assignment_table(
    voxels: pd.DataFrame,
    threshold: float,
    *,
    rois: Sequence[str],
    n_permutations: int,
    seed: int,
) -> pd.DataFrame:
    """Each ROI's layer assignment per subject and pooled (``all``), from the layerwise rows.

    Voxels with total r above ``threshold`` count; ``rois`` in hierarchy order, the first the
    reference; see :func:`~brainalign.studies.gnet_encoding.tuning.layer_assignment` (the
    comparisons with the reference are seeded per subject from ``seed``).
    """
    layerwise = voxels[voxels["partition"] == "layerwise"]
    if layerwise.empty:
        raise ValueError("the tuning table has no layerwise rows")
    frames = []
    for k, (subject, sub) in enumerate(_with_all(layerwise)):
        result, first = result_from_table(sub)
        table = layer_assignment(
            preferred_groups(result, threshold),
            first["roi"].to_numpy(),
            result.groups,
            order=rois,
            n_permutations=n_permutations,
            seed=np.random.SeedSequence([seed, k]),
        )
        table.insert(0, "subject", subject)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)
