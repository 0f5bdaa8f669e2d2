"""The study's names, import-light (no numpy or torch), for rule scripts in any env."""

from __future__ import annotations

from typing import Any

__all__ = [
    "JOINT",
    "PER_ROI",
    "RIDGE",
    "STUDY",
    "dataset_name",
    "model_names",
    "roi_of",
    "subject_number",
    "subject_tag",
    "subjects",
]

STUDY = "gnet_encoding"
#: GNet8j: one network for all ROI voxels of all subjects.
JOINT = "gnet8j"
#: GNet8r: one network per ROI (``gnet8r_<roi>``); in the accuracy table the ROIs are one model.
PER_ROI = "gnet8r"
#: The AlexNet-fwRF ridge baseline.
RIDGE = "ridge"


def dataset_name(block: dict[str, Any]) -> str:
    """``dataset.name``, or the source (``simulated`` / ``nsd``)."""
    return block["dataset"]["name"] or block["dataset"]["source"]


def subjects(block: dict[str, Any]) -> list[int]:
    """1-based NSD subject numbers of the run."""
    ds = block["dataset"]
    if ds["source"] == "simulated":
        return list(range(1, ds["simulation"]["n_subjects"] + 1))
    return [int(s) for s in ds["subjects"]]


def subject_tag(subject: int) -> str:
    """``subjAA``, as in the NSD paths."""
    return f"subj{int(subject):02d}"


def subject_number(tag: str) -> int:
    """The 1-based subject of a ``subjAA`` tag (the inverse of :func:`subject_tag`)."""
    return int(tag[len("subj") :])


def model_names(block: dict[str, Any]) -> list[str]:
    """``gnet8j`` and ``gnet8r_<roi>`` for every configured ROI."""
    return [JOINT] + [f"{PER_ROI}_{roi}" for roi in block["rois"]]


def roi_of(model: str) -> str | None:
    """The ROI of a ``gnet8r_<roi>`` model; None for ``gnet8j``."""
    prefix = f"{PER_ROI}_"
    return model[len(prefix) :] if model.startswith(prefix) else None
