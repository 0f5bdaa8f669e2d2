"""Writers of AllenSDK cache files: NWB (the parts the SDK reads), events, the JSON lists.

Formats: :mod:`brainalign.data.allen_cache`. Every writer is atomic and byte-stable (the same
input gives the same bytes); nothing is checked, so the tests write broken files with them too.
Used by :func:`brainalign.data.allen_simulate.simulate_allen_cache`.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from brainalign.data.allen_cache import NWB_METADATA, NWB_PATHS
from brainalign.io.files import atomic_path

__all__ = [
    "FRAME_RATE",
    "container_records",
    "write_allen_events",
    "write_allen_nwb",
    "write_json_records",
    "write_npz_stable",
]

#: 2-photon frame rate used for the timestamps (Hz; real ~30.08).
FRAME_RATE = 30.0
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_GZ = {"compression": "gzip", "compression_opts": 1}
_STRUCTURES = {
    "VISp": (385, "Primary visual area"),
    "VISl": (409, "Lateral visual area"),
    "VISal": (402, "Anterolateral visual area"),
    "VISpm": (533, "posteromedial visual area"),
    "VISam": (394, "Anteromedial visual area"),
}


# --------------------------------------------------------------------------- writers


def write_npz_stable(path: str | os.PathLike, **arrays: Any) -> Path:
    """A compressed ``.npz`` (as ``np.savez_compressed``) with fixed zip timestamps, atomically.

    ``np.savez_compressed`` stamps each member with the current time; this stamps 1980-01-01, so
    the same arrays give the same bytes. ``np.load`` reads it.
    """
    path = Path(path)
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, value in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o600 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue(), compresslevel=1)
    return path


def write_allen_events(path: str | os.PathLike, events: Any) -> Path:
    """An events file as the SDK reads it: key ``ev``, shape (cells, frames), float32."""
    return write_npz_stable(path, ev=np.asarray(events, dtype=np.float32))


def _text(group: h5py.Group, name: str, value: Any) -> None:
    if isinstance(value, list | tuple):
        group.create_dataset(name, data=np.array([str(v).encode() for v in value]))
    else:
        group.create_dataset(name, data=np.bytes_(str(value)))


def write_allen_nwb(
    path: str | os.PathLike,
    *,
    metadata: Mapping[str, Any],
    presentations: Mapping[str, tuple[Any, Any]],
    templates: Mapping[str, Any],
    cell_ids: Any,
    dff: Any,
    timestamps: Any,
) -> Path:
    """Write the parts of a Brain Observatory NWB file the SDK's dataset reads, atomically.

    Nothing is checked (the tests write broken files with it too).

    Parameters
    ----------
    path : path-like
    metadata : mapping
        Keys of :data:`~brainalign.data.allen_cache.NWB_METADATA` -> value, stored as fixed-length
        byte strings (lists as string arrays), e.g. ``imaging_depth="175 microns"``.
    presentations : mapping of str to (data, frame_duration)
        Per stimulus, ``stimulus/presentation/<stimulus>_stimulus/data`` (n,) int32 (image or
        movie frame, -1 = blank), ``frame_duration`` (n, 2) float64 (start, end 2-photon frame)
        and ``timestamps`` (n,) = start / 30 s.
    templates : mapping of str to array
        ``stimulus/templates/<stimulus>_image_stack/data``, (n, H, W) uint8.
    cell_ids : array_like, shape (cells,)
        ``ImageSegmentation/cell_specimen_ids``, int64.
    dff : array_like, shape (cells, frames)
        ``DfOverF/imaging_plane_1/data``, float32 (gzip level 1).
    timestamps : array_like, shape (frames,)
        ``DfOverF/imaging_plane_1/timestamps`` (s), float64.
    """
    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["nwb_version"] = "NWB-1.0.4"
        for key, value in metadata.items():
            parent, _, leaf = NWB_METADATA[key].rpartition("/")
            _text(f.require_group(parent) if parent else f, leaf, value)
        for stim, (data, frame_duration) in presentations.items():
            grp = f.create_group(f"{NWB_PATHS['presentation']}/{stim}_stimulus")
            fd = np.asarray(frame_duration, dtype=np.float64)
            grp.create_dataset("data", data=np.asarray(data, dtype=np.int32))
            grp.create_dataset("frame_duration", data=fd)
            grp.create_dataset("timestamps", data=fd[:, 0] / FRAME_RATE if fd.ndim == 2 else fd)
        for stim, stack in templates.items():
            data = np.asarray(stack, dtype=np.uint8)
            f.create_dataset(f"{NWB_PATHS['templates']}/{stim}_image_stack/data", data=data)
        f.create_dataset(NWB_PATHS["cell_ids"], data=np.asarray(cell_ids, dtype=np.int64))
        dff = np.asarray(dff, dtype=np.float32)
        f.create_dataset(NWB_PATHS["dff"], data=dff, shuffle=True, **_GZ)
        f.create_dataset(NWB_PATHS["dff_timestamps"], data=np.asarray(timestamps, dtype=float))
    return path


def write_json_records(path: str | os.PathLike, records: list[dict[str, Any]]) -> Path:
    """A JSON list as the SDK caches it (``json.dumps(indent=2)``, no final newline), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(json.dumps(records, indent=2).encode("utf-8"))
    return path


# --------------------------------------------------------------------------- records


def _specimen(cre: str, donor: int) -> dict[str, Any]:
    lines = [
        {"name": cre, "transgenic_line_type_name": "driver"},
        {"name": "Camk2a-tTA", "transgenic_line_type_name": "driver"},
        {"name": "Ai93(TITL-GCaMP6f)", "transgenic_line_type_name": "reporter"},
    ]
    donor_rec = {
        "id": donor,
        "external_donor_name": str(donor),
        "date_of_birth": "2015-11-02T00:00:00Z",
        "conditions": [],
        "transgenic_lines": lines,
    }
    name = f"{cre.split('-')[0]};Camk2a-tTA;Ai93-{donor}"
    return {"id": donor + 1, "name": name, "donor": donor_rec}


def container_records(plan: Sequence[Mapping[str, Any]]) -> tuple[list[dict], list[dict]]:
    """Records of ``experiment_containers.json`` and ``ophys_experiments.json``.

    Parameters
    ----------
    plan : sequence of mapping
        One per container: ``area`` (a key of the structure table: VISp, VISl, VISal, VISpm,
        VISam), ``depth``, ``cre_line``, ``failed``, ``container_id`` and ``experiments``
        (session type -> experiment id, in order).

    Returns
    -------
    containers, experiments : list of dict
        With the fields the SDK's filters and ``simple=True`` summaries read (``id``,
        ``failed``, ``imaging_depth``, ``targeted_structure{id, acronym, name}``,
        ``specimen{name, donor{external_donor_name, date_of_birth, conditions,
        transgenic_lines[{name, transgenic_line_type_name}]}}``; experiments also
        ``experiment_container_id``, ``stimulus_name``, ``date_of_acquisition``,
        ``fail_eye_tracking``, ``experiment_container{id, failed}``).
    """
    containers, experiments = [], []
    for c in plan:
        sid, sname = _STRUCTURES[c["area"]]
        structure = {"id": sid, "acronym": c["area"], "name": sname}
        specimen = _specimen(c["cre_line"], c["container_id"] - 200_000_000)
        exps = [
            {"id": eid, "stimulus_name": session, "experiment_container_id": c["container_id"]}
            for session, eid in c["experiments"].items()
        ]
        base = {"imaging_depth": c["depth"], "targeted_structure_id": sid}
        containers.append(
            {"id": c["container_id"], "failed": c["failed"], **base, "specimen_id": specimen["id"]}
            | {"targeted_structure": structure, "specimen": specimen, "ophys_experiments": exps}
        )
        for k, e in enumerate(exps):
            experiments.append(
                {**e, **base, "date_of_acquisition": f"2016-02-0{k + 1}T10:00:00Z"}
                | {"fail_eye_tracking": True, "targeted_structure": structure, "specimen": specimen}
                | {"experiment_container": {"id": c["container_id"], "failed": c["failed"]}}
            )
    return containers, experiments
