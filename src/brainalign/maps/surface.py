"""Brain maps as pictures: interactive surface HTML and static PNGs of label and stat images.

Interactive maps use nilearn's bundled fsaverage5 mesh (``view_img_on_surf``; the original used
fsaverage, which nilearn would download) with ``nearest_most_frequent`` sampling so labels are
never blended; the pages are self-contained.  Static PNGs are drawn over the bundled MNI152
template and saved with :func:`brainalign.maps.figures.save_figure` (110 dpi).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from brainalign.io.files import atomic_path
from brainalign.maps.colours import GREY

__all__ = ["interactive_label_map", "static_label_png", "static_stat_png"]

_DPI = 110  # resolution of the static brain maps


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

    from brainalign.maps.figures import save_figure

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
    (out,) = save_figure(fig, out_png, dpi=_DPI)
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

    from brainalign.maps.figures import save_figure

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
    (out,) = save_figure(fig, out_png, dpi=_DPI)
    disp.close()
    return out
