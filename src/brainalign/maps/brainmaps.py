"""Functional maps: NIfTI outputs, best-model / best-group label maps, interactive surface HTML,
static PNGs and the ROI bar charts of Dwivedi et al. (2021).

Label maps follow the original figures:

* individual models (``Fig1_individualdnns_searchlight.py``): colour = the model with the largest
  adjusted R² if the searchlight's lower noise ceiling passes the threshold and that model's
  corrected p (BH within the searchlight, then across searchlights) is ``<= alpha``; grey
  otherwise.  Model colours: shades of blue (2D), green (3D), magenta (semantic), yellow (other).
* grouped models (``Fig3a_groupeddnns_searchlight.py``): colour = the group with the largest unique
  variance if the ceiling passes, its corrected p(unique > 0) ``<= alpha`` and the corrected
  largest p of its pairwise differences with the other groups ``<= alpha``.

Label images use the codes ``0`` = no data (outside the mask), ``1`` = not significant / below the
noise ceiling, ``2 + k`` = label ``k``.  Interactive maps use nilearn's bundled fsaverage5 mesh
(``view_img_on_surf``; the original used fsaverage, which nilearn would download) with
``nearest_most_frequent`` sampling so labels are never blended; the pages are self-contained.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from brainalign.io.files import atomic_path
from brainalign.searchlight.core import Neighbourhoods, blocks_to_volume, centres_to_volume

__all__ = [
    "GREY",
    "best_group_labels",
    "best_model_labels",
    "group_colours",
    "interactive_label_map",
    "label_image",
    "max_pairwise_p",
    "model_colours",
    "plot_roi_grouped",
    "plot_roi_top3",
    "save_nifti",
    "static_label_png",
    "static_stat_png",
    "values_image",
]

GREY = (0.8, 0.8, 0.8)
_GROUP_BASE = {"2D": "blue", "3D": "green", "semantic": "magenta"}


# --------------------------------------------------------------------------------------------
# Colours
# --------------------------------------------------------------------------------------------
def _shade(kind: str, c: float) -> tuple[float, float, float]:
    if kind == "blue":
        return (0.0, 0.0, c)
    if kind == "green":
        return (0.0, c, 0.0)
    if kind == "magenta":
        return (c, 0.0, c)
    return (0.8, 0.8, 0.0)


def model_colours(models: Sequence[str], groups: Mapping[str, str]) -> dict[str, tuple]:
    """Original colour scheme: shades of blue (2D), green (3D), magenta (semantic), yellow else.

    Raises
    ------
    ValueError
        If a model has no group.
    """
    by_group: dict[str, list[str]] = {}
    for m in models:
        if m not in groups:
            raise ValueError(f"model {m!r} has no group")
        by_group.setdefault(groups[m], []).append(m)
    out = {}
    for g, ms in by_group.items():
        kind = _GROUP_BASE.get(g, "yellow")
        lo = 0.5 if kind == "magenta" else 0.3
        shades = np.linspace(lo, 1.0, num=len(ms)) if len(ms) > 1 else [1.0]
        for m, c in zip(ms, shades, strict=True):
            out[m] = _shade(kind, float(c))
    return out


def group_colours(groups: Sequence[str]) -> dict[str, tuple]:
    """Blue 2D, green 3D, magenta semantic (Fig. 3), yellow otherwise."""
    return {g: _shade(_GROUP_BASE.get(g, "yellow"), 1.0) for g in groups}


# --------------------------------------------------------------------------------------------
# Label logic
# --------------------------------------------------------------------------------------------
def best_model_labels(
    stat: ArrayLike, p_corrected: ArrayLike, keep: ArrayLike, alpha: float = 0.05
) -> np.ndarray:
    """Index of the best model per searchlight, ``-1`` where not significant / not kept.

    Parameters
    ----------
    stat : ``(n, K)`` clipped adjusted R²
    p_corrected : ``(n, K)`` p after both FDR steps (NaN where not tested)
    keep : ``(n,)`` noise-ceiling mask
    """
    S = np.asarray(stat, dtype=np.float64)
    P = np.asarray(p_corrected, dtype=np.float64)
    k = np.asarray(keep, dtype=bool)
    if S.shape != P.shape or S.ndim != 2 or k.shape != S.shape[:1]:
        raise ValueError(f"shapes disagree: stat {S.shape}, p {P.shape}, keep {k.shape}")
    finite = np.all(np.isfinite(S), axis=1)
    best = np.argmax(np.where(np.isfinite(S), S, -np.inf), axis=1)
    pb = P[np.arange(S.shape[0]), best]
    ok = k & finite & np.isfinite(pb) & (pb <= alpha)
    return np.where(ok, best, -1)


def max_pairwise_p(p_diff: ArrayLike, best: ArrayLike) -> np.ndarray:
    """``max_{j != best} p_diff[s, best, j]`` per searchlight (original
    ``apply_fdr_correction_searchlight_diff``; the diagonal is skipped)."""
    D = np.asarray(p_diff, dtype=np.float64)
    b = np.asarray(best, dtype=np.int64)
    n, K, _ = D.shape
    rows = D[np.arange(n), b]  # (n, K)
    rows = np.where(np.arange(K)[None, :] == b[:, None], -np.inf, rows)
    return rows.max(axis=1)


def best_group_labels(
    unique: ArrayLike,
    p_unique_corrected: ArrayLike,
    p_diff_max_corrected: ArrayLike,
    keep: ArrayLike,
    alpha: float = 0.05,
) -> np.ndarray:
    """Index of the group with the largest unique variance, ``-1`` where not significant."""
    U = np.asarray(unique, dtype=np.float64)
    P = np.asarray(p_unique_corrected, dtype=np.float64)
    Dm = np.asarray(p_diff_max_corrected, dtype=np.float64)
    k = np.asarray(keep, dtype=bool)
    if U.shape != P.shape or Dm.shape != U.shape[:1] or k.shape != U.shape[:1]:
        raise ValueError(
            f"shapes disagree: unique {U.shape}, p {P.shape}, p_diff {Dm.shape}, keep {k.shape}"
        )
    finite = np.all(np.isfinite(U), axis=1)
    best = np.argmax(np.where(np.isfinite(U), U, -np.inf), axis=1)
    pb = P[np.arange(U.shape[0]), best]
    ok = k & finite & np.isfinite(pb) & (pb <= alpha) & np.isfinite(Dm) & (Dm <= alpha)
    return np.where(ok, best, -1)


# --------------------------------------------------------------------------------------------
# NIfTI
# --------------------------------------------------------------------------------------------
def values_image(values: ArrayLike, nbh: Neighbourhoods, ref_img, fill: float = np.nan):
    """NIfTI image (float32) of one value (or a trailing axis of values) per searchlight."""
    import nibabel as nib

    vol = (
        blocks_to_volume(values, nbh, fill)
        if nbh.kind == "block"
        else centres_to_volume(values, nbh, fill)
    )
    return nib.Nifti1Image(vol.astype(np.float32), ref_img.affine)


def label_image(labels: ArrayLike, nbh: Neighbourhoods, ref_img, mask: ArrayLike | None = None):
    """Integer label image: 0 no data, 1 not significant, ``2 + k`` label ``k``.

    ``labels`` holds one label per searchlight (``-1`` = not significant).  With ``mask`` the
    no-data code is restricted to voxels outside it.
    """
    import nibabel as nib

    lab = np.asarray(labels, dtype=np.float64) + 2.0
    vol = blocks_to_volume(lab, nbh, 0.0) if nbh.kind == "block" else centres_to_volume(lab, nbh, 0)
    vol = np.nan_to_num(vol, nan=0.0)
    if mask is not None:
        vol = np.where(np.asarray(mask, dtype=bool), vol, 0.0)
    return nib.Nifti1Image(vol.astype(np.int16), ref_img.affine)


def _save_figure(fig, path: str | os.PathLike) -> Path:
    """Save a matplotlib figure atomically (110 dpi) and close it."""
    import matplotlib.pyplot as plt

    p = Path(path)
    with atomic_path(p) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return p


def save_nifti(img, path: str | os.PathLike) -> Path:
    """Write atomically (:func:`brainalign.io.files.atomic_path`)."""
    import nibabel as nib

    p = Path(path)
    suffix = ".nii.gz" if p.name.endswith(".nii.gz") else p.suffix
    with atomic_path(p, suffix=suffix) as tmp:
        nib.save(img, tmp)
    return p


# --------------------------------------------------------------------------------------------
# Interactive and static maps
# --------------------------------------------------------------------------------------------
def _label_cmap(colours: Sequence[tuple]):
    from matplotlib.colors import ListedColormap

    return ListedColormap([GREY, *colours])


def interactive_label_map(
    label_img,
    names: Sequence[str],
    colours: Sequence[tuple],
    out_html: str | os.PathLike,
    *,
    title: str = "Functional map",
) -> Path:
    """Self-contained HTML of a label image on the fsaverage5 surface (nilearn, offline).

    A legend (name and colour of every label, grey = not significant) is added above the view.
    """
    from nilearn import plotting

    if len(names) != len(colours):
        raise ValueError(f"{len(names)} names but {len(colours)} colours")
    n = len(names)
    img = _on_mni_grid(label_img)
    kwargs = dict(
        surf_mesh="fsaverage5",
        threshold=0.5,
        cmap=_label_cmap(colours),
        vmin=0.5,
        vmax=n + 1.5,
        symmetric_cmap=False,
        colorbar=False,
        title=title,
    )
    try:
        view = plotting.view_img_on_surf(
            img, vol_to_surf_kwargs={"interpolation": "nearest_most_frequent"}, **kwargs
        )
    except ValueError:  # pragma: no cover - a volume that misses part of the surface
        view = plotting.view_img_on_surf(img, **kwargs)
    html = view.get_standalone()
    items = "".join(
        f'<span style="display:inline-block;margin:2px 10px;">'
        f'<span style="display:inline-block;width:14px;height:14px;vertical-align:middle;'
        f'background:rgb({int(255 * c[0])},{int(255 * c[1])},{int(255 * c[2])});"></span> '
        f"{_escape(nm)}</span>"
        for nm, c in [("not significant", GREY), *zip(names, colours, strict=True)]
    )
    legend = (
        f'<div id="brainalign-legend" style="font-family:sans-serif;font-size:13px;">{items}</div>'
    )
    i = html.find("<body")
    if i >= 0:
        j = html.find(">", i) + 1
        html = html[:j] + legend + html[j:]
    else:  # pragma: no cover - nilearn always writes a body
        html = legend + html
    p = Path(out_html)
    with atomic_path(p) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return p


def _on_mni_grid(img):
    """Labels resampled (nearest) onto nilearn's MNI152 grid of the closest resolution, so every
    surface vertex samples inside the image (bundled template, no download)."""
    from nilearn.datasets import load_mni152_brain_mask
    from nilearn.image import resample_to_img

    vox = float(np.mean(np.abs(np.diag(img.affine)[:3])))
    res = min((1, 2, 3), key=lambda r: abs(r - vox))
    ref = load_mni152_brain_mask(resolution=res)
    if img.shape[:3] == ref.shape and np.allclose(img.affine, ref.affine):
        return img
    return resample_to_img(img, ref, interpolation="nearest", force_resample=True, copy_header=True)


def _escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def static_label_png(
    label_img,
    names: Sequence[str],
    colours: Sequence[tuple],
    out_png: str | os.PathLike,
    *,
    title: str = "Functional map",
) -> Path:
    """Label image over the bundled MNI152 template (``plot_roi``, ortho + legend) as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from nilearn import plotting

    fig = plt.figure(figsize=(10, 4.2))
    disp = plotting.plot_roi(
        label_img,
        display_mode="ortho",
        colorbar=False,
        cmap=_label_cmap(colours),
        vmin=0.5,
        vmax=len(names) + 1.5,
        title=title,
        figure=fig,
        resampling_interpolation="nearest",
        draw_cross=False,
    )
    handles = [Patch(color=GREY, label="not significant")] + [
        Patch(color=c, label=n) for n, c in zip(names, colours, strict=True)
    ]
    fig.legend(handles=handles, loc="lower center", ncol=min(6, len(handles)), fontsize=8)
    out = _save_figure(fig, out_png)
    disp.close()
    return out


def static_stat_png(
    img,
    out_png: str | os.PathLike,
    *,
    title: str = "",
    kind: str = "glass",
    threshold: float | None = None,
    cmap: str = "viridis",
) -> Path:
    """Glass brain (``kind="glass"``) or stat map over the template (``kind="stat"``) as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from nilearn import plotting

    if kind not in ("glass", "stat"):
        raise ValueError(f"unknown kind {kind!r}; use 'glass' or 'stat'")
    fig = plt.figure(figsize=(10, 4))
    data = np.nan_to_num(np.asarray(img.get_fdata()), nan=0.0)
    import nibabel as nib

    clean = nib.Nifti1Image(data.astype(np.float32), img.affine)
    vmax = float(np.nanmax(np.abs(data))) or 1.0
    if kind == "glass":
        disp = plotting.plot_glass_brain(
            clean, figure=fig, title=title, threshold=threshold if threshold is not None else 1e-6,
            cmap=cmap, colorbar=True, plot_abs=False, vmin=0.0, vmax=vmax,
        )  # fmt: skip
    else:
        disp = plotting.plot_stat_map(
            clean, figure=fig, title=title, threshold=threshold if threshold is not None else 1e-6,
            cmap=cmap, colorbar=True, vmin=0.0, vmax=vmax, symmetric_cbar=False,
        )  # fmt: skip
    out = _save_figure(fig, out_png)
    disp.close()
    return out


# --------------------------------------------------------------------------------------------
# ROI bar charts (Fig. 2b and Fig. 3b)
# --------------------------------------------------------------------------------------------
def _grid(n: int) -> tuple[int, int]:
    cols = int(np.ceil(np.sqrt(n)))
    return int(np.ceil(n / cols)), cols


def _bars(ax, labels, vals, sds, cols, p, pdiff, alpha, title):
    x = np.arange(len(vals))
    ax.bar(x, vals, yerr=sds, color=cols, capsize=3, edgecolor="black", linewidth=0.5)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.axhline(0, color="black", linewidth=0.5)
    top = np.nanmax(np.asarray(vals) + np.nan_to_num(np.asarray(sds))) if len(vals) else 0
    top = max(float(top), 1e-3)
    for i in range(len(vals)):
        if np.isfinite(p[i]) and p[i] < alpha:
            ax.text(x[i], vals[i] + np.nan_to_num(sds[i]) + 0.02 * top, "*", ha="center")
    level = 1.15 * top
    for i in range(len(vals)):
        for j in range(i + 1, len(vals)):
            if pdiff is not None and np.isfinite(pdiff[i, j]) and pdiff[i, j] < alpha:
                ax.plot([x[i], x[i], x[j], x[j]], [level, level * 1.03, level * 1.03, level],
                        color="black", linewidth=0.6)  # fmt: skip
                ax.text((x[i] + x[j]) / 2, level * 1.04, "*", ha="center", fontsize=8)
                level *= 1.12
    ax.set_ylim(min(0.0, float(np.nanmin(vals)) * 1.2), level * 1.1)
    ax.tick_params(axis="y", labelsize=7)


def _roi_figure(
    table,
    out_path: str | os.PathLike,
    *,
    item_col: str,
    colours: Mapping[str, tuple],
    pairs,
    alpha: float,
    suptitle: str,
    roi_order: Sequence[str] | None,
) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rois = list(roi_order) if roi_order is not None else list(dict.fromkeys(table["roi"]))
    nr, nc = _grid(len(rois))
    fig, axes = plt.subplots(nr, nc, figsize=(3.0 * nc, 2.8 * nr), squeeze=False)
    for a, roi in zip(axes.ravel(), rois, strict=False):
        sub = table[table["roi"] == roi].sort_values("rank")
        items = list(sub[item_col])
        pdiff = None
        if pairs is not None:
            ps = pairs[pairs["roi"] == roi]
            pdiff = np.full((len(items), len(items)), np.nan)
            for _, r in ps.iterrows():
                if r["item_1"] in items and r["item_2"] in items:
                    i, j = items.index(r["item_1"]), items.index(r["item_2"])
                    pdiff[i, j] = pdiff[j, i] = r["p_fdr"]
        total = float(sub["total_r2adj"].iloc[0]) if len(sub) else np.nan
        _bars(
            a, items, sub["unique_r2adj"].to_numpy(), sub["sd"].to_numpy(),
            [colours.get(i, GREY) for i in items], sub["p_fdr"].to_numpy(), pdiff, alpha,
            f"{roi} (R²adj = {total:.2f})",
        )  # fmt: skip
    for a in axes.ravel()[len(rois) :]:
        a.axis("off")
    fig.suptitle(suptitle, fontsize=11)
    fig.supylabel("unique variance (adj. R²)", fontsize=9)
    fig.tight_layout()
    return _save_figure(fig, out_path)


def plot_roi_top3(
    table,
    out_path: str | os.PathLike,
    *,
    colours: Mapping[str, tuple],
    pairs=None,
    alpha: float = 0.05,
    roi_order: Sequence[str] | None = None,
) -> Path:
    """Fig. 2b: per ROI the unique variance of the top-3 models (bars ± bootstrap SD), '*' for
    FDR p < alpha against zero and for pairwise differences; title = total adj. R².

    ``table`` columns: roi, model, rank, unique_r2adj, sd, p_fdr, total_r2adj; ``pairs``: roi,
    item_1, item_2, p_fdr.
    """
    return _roi_figure(
        table, out_path, item_col="model", colours=colours, pairs=pairs, alpha=alpha,
        suptitle="Top-3 models per ROI: unique variance", roi_order=roi_order,
    )  # fmt: skip


def plot_roi_grouped(
    table,
    out_path: str | os.PathLike,
    *,
    colours: Mapping[str, tuple],
    pairs=None,
    alpha: float = 0.05,
    roi_order: Sequence[str] | None = None,
) -> Path:
    """Fig. 3b: per ROI the unique variance of each model group (same columns as
    :func:`plot_roi_top3`, with ``group`` instead of ``model``)."""
    return _roi_figure(
        table, out_path, item_col="group", colours=colours, pairs=pairs, alpha=alpha,
        suptitle="Model groups per ROI: unique variance", roi_order=roi_order,
    )  # fmt: skip
