"""The study's config block: the checks a schema cannot express.

Each check stops the run before any job starts, with one message naming the key and saying what
to write instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brainalign.pipeline.config import ConfigError, check_networks
from brainalign.studies.gnet_encoding.names import STUDY, dataset_name, subject_tag, subjects

__all__ = ["STUDY", "complete_config", "dataset_name", "nsd_sessions"]

_ROI_ORDER = ("V1", "V2", "V3", "hV4")


def nsd_sessions(root: str | Path, subject: int, wanted: int | None) -> list[int]:
    """Sessions of a subject to read: 1..``wanted``, or every ``betas_sessionNN`` present."""
    from brainalign.data.nsd import FILES

    if wanted is not None:
        return list(range(1, int(wanted) + 1))
    pattern = FILES["betas"].format(subject=subject, session=0).replace("00.nii", "*.nii")
    found = sorted(Path(root).glob(pattern))
    return [int(p.name[len("betas_session") : -len(".nii.gz")]) for p in found]


def _check_rois(block: dict[str, Any]) -> None:
    rois = block["rois"]
    ordered = [r for r in _ROI_ORDER if r in rois]
    if rois != ordered:
        raise ConfigError(
            f"config key '{STUDY}.rois': {rois} must follow the hierarchy; write {ordered}"
        )
    if len(rois) < 3 and block["transfer"]["enabled"]:
        raise ConfigError(
            f"config key '{STUDY}.rois': the transfer matrix's asymmetry index needs >= 3 ROIs, "
            f"got {rois}; add ROIs or set {STUDY}.transfer.enabled: false"
        )


def _check_nsd(block: dict[str, Any]) -> None:
    ds = block["dataset"]
    root = Path(ds["root"])
    from brainalign.data.nsd import FILES, nsd_paths

    needed = [root / FILES["expdesign"], root / FILES["stimuli"]]
    for s in subjects(block):
        paths = nsd_paths(root, s)
        needed += [paths["prf_visualrois"], paths["kastner"], paths["ncsnr"]]
        if ds["brainmask"]:
            needed.append(root / ds["brainmask"].format(subject=s))
        sessions = nsd_sessions(root, s, ds["sessions"])
        first = FILES["betas"].format(subject=s, session=1)
        if not sessions:
            raise ConfigError(
                f"config key '{STUDY}.dataset.root': no betas_sessionNN.nii.gz of "
                f"{subject_tag(s)} under {str(root)!r} ({first})"
                "; NSD needs a signed data-access agreement (https://naturalscenesdataset.org): "
                "place the files there (aws s3 cp s3://natural-scenes-dataset/<path>)"
            )
        if sessions and sessions != list(range(1, len(sessions) + 1)):
            raise ConfigError(
                f"config key '{STUDY}.dataset.sessions': {subject_tag(s)} has sessions "
                f"{sessions} under {str(root)!r}; the design's trials need sessions 1..N without "
                "gaps: place the missing ones or set sessions to the last complete one"
            )
        needed += [nsd_paths(root, s, sessions)[f"betas_session{k:02d}"] for k in sessions]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise ConfigError(
            f"config key '{STUDY}.dataset.root': {len(missing)} NSD files are missing under "
            f"{str(root)!r}, first {missing[0]!r}; NSD needs a signed data-access agreement "
            "(https://naturalscenesdataset.org), then aws s3 cp s3://natural-scenes-dataset/<path> "
            "to the same relative path (resources/registry.yaml, group nsd)"
        )


def complete_config(cfg: dict[str, Any]) -> list[str]:
    """Check the ``gnet_encoding`` block in place; returns the models trained."""
    from brainalign.studies.gnet_encoding.names import model_names

    block = cfg[STUDY]
    _check_rois(block)
    if block["dataset"]["source"] == "nsd":
        if not block["dataset"]["subjects"]:
            raise ConfigError(f"config key '{STUDY}.dataset.subjects': list at least one subject")
        _check_nsd(block)
    if block["prefilter"]["trained"]:
        # the shared weights key, resolved and verified against the registry like every study's
        check_networks(cfg, ["alexnet_trained"], f"{STUDY}.prefilter")
    if block["image_size"] < 63:
        raise ConfigError(
            f"config key '{STUDY}.image_size': {block['image_size']} px is too small for the "
            "AlexNet prefilter and two GNet stages; use >= 63 (the paper: 227)"
        )
    return model_names(block)
