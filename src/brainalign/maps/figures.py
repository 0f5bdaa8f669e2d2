"""Generic figures (RDM heatmaps) and the one figure saver, :func:`save_figure`.

Every figure of the project is written by :func:`save_figure`: atomically, without metadata that
changes between runs (so the same data give the same bytes), optionally with provenance.  Study
figures live with their study (``studies/<id>/figures.py``); brain maps in
:mod:`brainalign.maps.surface`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib
import numpy as np

from brainalign.io.files import atomic_path

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plot_rdm", "plot_rdm_grid", "save_figure"]


def plot_rdm(
    ax: plt.Axes,
    rdm: np.ndarray,
    title: str,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "Blues_r",
) -> plt.Axes:
    """Heatmap of one RDM (the original used ``Blues_r``); limits default to the 1st and 99th
    percentiles of the off-diagonal values."""
    off = rdm[~np.eye(rdm.shape[0], dtype=bool)]
    vmin = np.percentile(off, 1) if vmin is None else vmin
    vmax = np.percentile(off, 99) if vmax is None else vmax
    im = ax.imshow(rdm, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest", rasterized=True)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.figure.colorbar(im, ax=ax, shrink=0.6)
    ax.set_title(title, fontsize=9)
    return ax


def plot_rdm_grid(
    rdms: Sequence[np.ndarray], titles: Sequence[str], suptitle: str, ncols: int = 4
) -> plt.Figure:
    """A grid of RDM heatmaps (e.g. the 7 layers of one network)."""
    n = len(rdms)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.0 * nrows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, rdm, t in zip(axes.ravel(), rdms, titles, strict=False):
        plot_rdm(ax, rdm, t)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def save_figure(
    fig: plt.Figure,
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    provenance: dict | None = None,
    *,
    dpi: float = 150,
) -> list[Path]:
    """Save ``fig`` to every path (format from the suffix) atomically, then close it.

    Metadata that would change between runs (creation dates) is stripped, so the same data
    gives the same bytes. ``provenance`` (see :mod:`brainalign.pipeline.provenance`) is stored as
    JSON in the file's metadata (PNG ``Description``, PDF ``Subject``, SVG ``Description``).

    Parameters
    ----------
    fig : matplotlib Figure
    paths : path-like or iterable of path-likes
        One destination or several (e.g. a PNG and a PDF of the same figure).
    provenance : dict, optional
        Stored as JSON in each file's metadata.
    dpi : float
        Resolution of raster outputs.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order given.
    """
    text = json.dumps(provenance, sort_keys=True, default=str) if provenance else None
    written = []
    for path in [paths] if isinstance(paths, str | os.PathLike) else list(paths):
        fmt = Path(path).suffix.lstrip(".")
        meta: dict = {
            "png": {"Software": None},
            "pdf": {"CreationDate": None, "Producer": None},
            "svg": {"Date": None},
        }.get(fmt, {})
        if text is not None:
            meta[{"png": "Description", "pdf": "Subject", "svg": "Description"}[fmt]] = text
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta)
        written.append(Path(path))
    plt.close(fig)
    return written
