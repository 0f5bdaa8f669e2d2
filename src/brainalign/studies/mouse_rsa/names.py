"""The study's names, import-light (no numpy or torch), for rule scripts in any env."""

from __future__ import annotations

from typing import Any

__all__ = ["PIXEL", "STUDY", "combos", "dataset_name", "model_layers", "model_runs"]

STUDY = "mouse_rsa"
#: Name of the pixel baseline in the tables.
PIXEL = "pixel"


def dataset_name(block: dict[str, Any]) -> str:
    """``dataset.name``, or the source (``simulated`` / ``allen``)."""
    return block["dataset"]["name"] or block["dataset"]["source"]


def model_runs(block: dict[str, Any]) -> list[str]:
    """``<model>_seed-<s>`` for every configured model and seed."""
    return [f"{m['name']}_seed-{s}" for m in block["models"] for s in m["seeds"]]


def combos(block: dict[str, Any]) -> list[tuple[str, int]]:
    """(area, depth) pairs, in config order."""
    return [(a, d) for a in block["areas"] for d in block["depths"]]


def model_layers(name: str) -> tuple[str, ...]:
    """The recorded layers of a configured model (``networks.registry.VIDEO_LAYER_NAMES``)."""
    from brainalign.networks.registry import VIDEO_LAYER_NAMES

    return VIDEO_LAYER_NAMES[name]
