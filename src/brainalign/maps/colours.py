"""Colours of the functional maps (Dwivedi et al. 2021): grey for "not significant", and shades
of blue (2D), green (3D), magenta (semantic) or yellow (other) per model group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["GREY", "group_colours", "model_colours"]

GREY = (0.8, 0.8, 0.8)
_GROUP_BASE = {"2D": "blue", "3D": "green", "semantic": "magenta"}


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
