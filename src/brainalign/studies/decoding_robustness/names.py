"""The study's names and switch values, import-light (standard library only), for rule scripts
in any env."""

from __future__ import annotations

from typing import Any

__all__ = [
    "REFERENCE",
    "STUDY",
    "blur_mode_of",
    "dataset_name",
    "split_network",
    "voxel_filter_of",
]

STUDY = "decoding_robustness"
#: Name of the planted brain-like reference embedding in the tables (simulated source only).
REFERENCE = "planted_reference"


def dataset_name(block: dict[str, Any]) -> str:
    """``dataset.name``, or the source (``simulated`` / ``kay2008``)."""
    ds = block["dataset"]
    return ds["name"] or ds["source"]


def split_network(entry: str) -> tuple[str, bool]:
    """``"resnet50_trained"`` -> ``("resnet50", True)``."""
    backbone, _, training = entry.rpartition("_")
    return backbone, training == "trained"


def voxel_filter_of(variant_name: str) -> str:
    """``variants.voxel_filter`` -> :func:`brainalign.data.kay2008.load_kay`'s filter."""
    return {"corrected": "roi", "faithful": "first_columns"}[variant_name]


def blur_mode_of(variant_name: str) -> str:
    """``variants.blur`` -> :func:`brainalign.data.blur.blur_levels`' mode."""
    return {"corrected": "gaussian", "faithful": "faithful"}[variant_name]
