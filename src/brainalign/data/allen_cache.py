"""AllenSDK ``BrainObservatoryCache`` files without the SDK: manifest, JSON lists, selection.

Formats read from the allensdk 2.16.2 source (``core/brain_observatory_cache.py``,
``api/queries/brain_observatory_api.py``, ``config/manifest.py``, ``core/
brain_observatory_nwb_data_set.py``) and checked against the SDK itself in
``tests/studies/mouse_rsa/test_allen_sdk.py``:

* **manifest** — ``{"manifest": [...]}`` written by ``json.dumps(indent=2)`` (no final newline):
  ``{"type": "manifest_version", "value": "1.3"}`` (the SDK refuses any other version), then
  ``{"key", "type", "spec"[, "parent_key"]}`` entries, :data:`MANIFEST_ENTRIES`. ``BASEDIR``
  (a ``dir``, spec ``.``) is relative to the manifest's folder; files join their parent's spec
  and their own; ``%d`` is the experiment id.
* **experiment_containers.json** — a list of containers. ``get_experiment_containers(
  cre_lines, targeted_structures, imaging_depths)`` drops ``failed`` ones
  (``record.get("failed", False)``), keeps ``targeted_structure["acronym"] in
  targeted_structures``, ``imaging_depth in imaging_depths`` and the cre line: the first entry of
  ``specimen["donor"]["transgenic_lines"]`` whose ``transgenic_line_type_name`` is ``"driver"``
  and whose ``name`` contains ``"Cre"``, compared case-insensitively.
* **ophys_experiments.json** — a list of experiments. ``get_ophys_experiments(
  experiment_container_ids, stimuli)`` drops ``failed`` experiments and those whose
  ``experiment_container["failed"]`` is true, keeps ``experiment_container_id in ...`` and the
  experiments whose session (``stimulus_name``, e.g. ``three_session_B``) shows one of
  ``stimuli`` (:data:`SESSION_STIMULI`, the SDK's ``SESSION_STIMULUS_MAP``), in file order. (The
  SDK also asks the API for eye-tracking files on every call, even with a complete cache; that
  only sets ``fail_eye_tracking``, which this selection does not use.)
* **events** — ``ophys_experiment_events/<id>_events.npz``; the SDK returns
  ``np.load(path, allow_pickle=False)["ev"]``, (cells, 2-photon frames).
* **NWB** (HDF5, NWB 1.0 layout) — :data:`NWB_PATHS`, :data:`NWB_METADATA`; read by
  :mod:`brainalign.data.allen`, written by :mod:`brainalign.data.allen_simulate`.

:func:`select_experiments` loops as the original (methods §5.1): per area and depth,
``get_experiment_containers(cre_lines=[cre], targeted_structures=[area], imaging_depths=[depth])``,
then per container and stimulus ``get_ophys_experiments(experiment_container_ids=[id],
stimuli=[stimulus])``. Natural scenes are in ``three_session_B`` only; natural movie one in
sessions A, B and C (or C2), so a container gives one scenes and three movie experiments (the
same cells recorded three times; the study decides what to pool).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from brainalign.data.base import DataFileError, file_error
from brainalign.io.files import atomic_path

__all__ = [
    "AREAS",
    "DEPTHS",
    "CRE_LINE",
    "STIMULI",
    "SELECTION_COLUMNS",
    "MANIFEST_VERSION",
    "MANIFEST_ENTRIES",
    "MANIFEST_NAMES",
    "NWB_METADATA",
    "NWB_PATHS",
    "SESSION_STIMULI",
    "cre_line_of",
    "filter_containers",
    "filter_experiments",
    "find_manifest",
    "read_json_records",
    "read_manifest",
    "select_experiments",
    "write_manifest",
]

#: Targeted structures of the study (primary, lateral, anterolateral, posteromedial, anteromedial).
AREAS = ("VISp", "VISl", "VISal", "VISpm", "VISam")
#: Imaging depths (µm).
DEPTHS = (175, 275)
CRE_LINE = "Cux2-CreERT2"
STIMULI = ("natural_scenes", "natural_movie_one")
#: Columns of :func:`select_experiments`.
SELECTION_COLUMNS = (
    "area",
    "depth",
    "stimulus",
    "container_id",
    "experiment_id",
    "session_type",
    "nwb",
    "events",
)

MANIFEST_VERSION = "1.3"
#: ``BrainObservatoryCache.build_manifest``, in its order: (key, type, spec).
MANIFEST_ENTRIES = (
    ("BASEDIR", "dir", "."),
    ("EXPERIMENT_CONTAINERS", "file", "experiment_containers.json"),
    ("EXPERIMENTS", "file", "ophys_experiments.json"),
    ("EXPERIMENT_DATA", "file", "ophys_experiment_data/%d.nwb"),
    ("ANALYSIS_DATA", "file", "ophys_experiment_analysis/%d_%s_analysis.h5"),
    ("EVENTS_DATA", "file", "ophys_experiment_events/%d_events.npz"),
    ("CELL_SPECIMENS", "file", "cell_specimens.json"),
    ("STIMULUS_MAPPINGS", "file", "stimulus_mappings.json"),
    ("EYE_GAZE_DATA", "file", "ophys_eye_gaze_mapping/%d_eyetracking_dlc_to_screen_mapping.h5"),
)
#: Manifest file names looked for in a cache folder (the workflow's, then the SDK's default).
MANIFEST_NAMES = ("manifest.json", "brain_observatory_manifest.json")
#: Stimuli shown in each session type (``allensdk.brain_observatory.stimulus_info``).
_NM = ("natural_movie_one", "natural_movie_two")
SESSION_STIMULI = {
    "three_session_A": ("drifting_gratings", "natural_movie_one", "natural_movie_three"),
    "three_session_B": ("static_gratings", "natural_scenes", "natural_movie_one"),
    "three_session_C": ("locally_sparse_noise", *_NM),
    "three_session_C2": ("locally_sparse_noise_4deg", "locally_sparse_noise_8deg", *_NM),
}
SESSION_STIMULI = {k: (*v, "spontaneous") for k, v in SESSION_STIMULI.items()}
_PIPE = "processing/brain_observatory_pipeline"
#: HDF5 paths the SDK's ``BrainObservatoryNwbDataSet`` reads.
NWB_PATHS = {
    "presentation": "stimulus/presentation",
    "templates": "stimulus/templates",
    "cell_ids": f"{_PIPE}/ImageSegmentation/cell_specimen_ids",
    "dff": f"{_PIPE}/DfOverF/imaging_plane_1/data",
    "dff_timestamps": f"{_PIPE}/DfOverF/imaging_plane_1/timestamps",
    "session_type": "general/session_type",
}
#: ``FILE_METADATA_MAPPING`` of the SDK: metadata name -> HDF5 path (all stored as strings).
NWB_METADATA = {
    "age": "general/subject/age",
    "sex": "general/subject/sex",
    "imaging_depth": "general/optophysiology/imaging_plane_1/imaging depth",
    "targeted_structure": "general/optophysiology/imaging_plane_1/location",
    "ophys_experiment_id": "general/session_id",
    "experiment_container_id": "general/experiment_container_id",
    "device_string": "general/devices/2-photon microscope",
    "excitation_lambda": "general/optophysiology/imaging_plane_1/excitation_lambda",
    "indicator": "general/optophysiology/imaging_plane_1/indicator",
    "fov": "general/fov",
    "genotype": "general/subject/genotype",
    "session_start_time": "session_start_time",
    "session_type": "general/session_type",
    "specimen_name": "general/specimen_name",
    "generated_by": "general/generated_by",
}
_SPEC_KEYS = ("EXPERIMENT_CONTAINERS", "EXPERIMENTS", "EXPERIMENT_DATA", "EVENTS_DATA")


# --------------------------------------------------------------------------- manifest


def write_manifest(path: str | os.PathLike) -> Path:
    """Write the manifest ``BrainObservatoryCache`` builds, byte for byte, atomically."""
    entries: list[dict[str, str]] = [{"type": "manifest_version", "value": MANIFEST_VERSION}]
    for key, kind, spec in MANIFEST_ENTRIES:
        entry = {"key": key, "type": kind, "spec": spec}
        if key != "BASEDIR":
            entry["parent_key"] = "BASEDIR"
        entries.append(entry)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(json.dumps({"manifest": entries}, indent=2).encode("utf-8"))
    return path


def find_manifest(cache: str | os.PathLike) -> Path:
    """The manifest of a cache: ``cache`` itself if a file, else the first of
    :data:`MANIFEST_NAMES` in the folder.

    Raises
    ------
    DataFileError
        No manifest there (names the paths tried and how to make the cache).
    """
    cache = Path(cache)
    if cache.is_file():
        return cache
    tried = [cache / name for name in MANIFEST_NAMES]
    for path in tried:
        if path.is_file():
            return path
    raise DataFileError(
        f"no AllenSDK cache manifest at {' or '.join(map(str, tried))}: fetch the cache with "
        "workflow/scripts/mouse_rsa/download_allen.py (AllenSDK, its own venv) or write a "
        "simulated one with brainalign.data.allen_simulate.simulate_allen_cache"
    )


def _manifest_entries(path: Path) -> list[Any]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["manifest"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise file_error(path, "AllenSDK manifest (JSON with a 'manifest' list)", exc) from exc
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise DataFileError(f"{path}: key 'manifest' should be a list of objects")
    return entries


def read_manifest(path: str | os.PathLike) -> dict[str, str]:
    """Path specs of a manifest, resolved as the SDK's ``Manifest`` does.

    Parameters
    ----------
    path : path-like
        The manifest JSON.

    Returns
    -------
    dict of str to str
        Key -> absolute path spec (``%d`` / ``%s`` left in place).

    Raises
    ------
    DataFileError
        Unreadable JSON, a version other than :data:`MANIFEST_VERSION`, or an entry naming an
        unknown parent.
    """
    path = Path(path)
    base = Path(os.path.abspath(path)).parent  # as the SDK: absolute, symlinks kept
    specs: dict[str, str] = {}
    version = None
    for entry in _manifest_entries(path):
        kind = entry.get("type")
        if kind == "manifest_version":
            version = entry.get("value")
            continue
        if kind not in ("dir", "file") or "key" not in entry or "spec" not in entry:
            continue
        parent = entry.get("parent_key")
        if parent and parent not in specs:
            raise DataFileError(
                f"{path}: entry {entry['key']!r} names parent_key {parent!r}, not defined before it"
            )
        spec = str(entry["spec"])
        root = Path(specs[parent]) if parent else base
        specs[str(entry["key"])] = os.path.abspath(os.path.join(root, *spec.split("/")))
    if version != MANIFEST_VERSION:
        raise DataFileError(
            f"{path}: manifest_version is {version!r}, expected {MANIFEST_VERSION!r} "
            "(allensdk 2.16.2); remove the manifest and let the SDK rebuild it"
        )
    return specs


def read_json_records(path: str | os.PathLike, what: str) -> list[dict[str, Any]]:
    """A JSON list of records (``experiment_containers.json``, ``ophys_experiments.json``).

    Raises
    ------
    DataFileError
        Missing, unreadable, or not a list of objects.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(
            f"{path}: the {what} list of the AllenSDK cache is missing; fetch it with "
            "workflow/scripts/mouse_rsa/download_allen.py or place a pre-downloaded cache there"
        )
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise file_error(path, f"JSON list of {what}", exc) from exc
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataFileError(f"{path}: should hold a JSON list of {what} objects")
    return records


# --------------------------------------------------------------------------- SDK filters


def cre_line_of(record: Mapping[str, Any]) -> str | None:
    """``find_specimen_cre_line``: the first driver line of the donor whose name has ``Cre``."""
    lines = record.get("specimen", {}).get("donor", {}).get("transgenic_lines", [])
    for line in lines:
        if line.get("transgenic_line_type_name") == "driver" and "Cre" in line.get("name", ""):
            return str(line["name"])
    return None


def _acronym(record: Mapping[str, Any]) -> str | None:
    structure = record.get("targeted_structure")
    return structure.get("acronym") if isinstance(structure, Mapping) else None


def filter_containers(
    records: Iterable[Mapping[str, Any]],
    *,
    targeted_structures: Sequence[str] | None = None,
    imaging_depths: Sequence[int] | None = None,
    cre_lines: Sequence[str] | None = None,
    include_failed: bool = False,
) -> list[Mapping[str, Any]]:
    """``get_experiment_containers``' filter (``filter_experiments_and_containers``).

    Parameters
    ----------
    records : iterable of mapping
        ``experiment_containers.json`` records.
    targeted_structures, imaging_depths, cre_lines : sequence, optional
        None = no filter; cre lines compare case-insensitively with :func:`cre_line_of`.
    include_failed : bool
        Keep containers with ``failed`` true.

    Returns
    -------
    list of mapping
        The kept records, in file order.
    """
    out = [r for r in records if include_failed or not r.get("failed", False)]
    if targeted_structures is not None:
        out = [r for r in out if _acronym(r) in targeted_structures]
    if imaging_depths is not None:
        out = [r for r in out if r.get("imaging_depth") in imaging_depths]
    if cre_lines is not None:
        wanted = {c.lower() for c in cre_lines}
        out = [r for r in out if (c := cre_line_of(r)) is not None and c.lower() in wanted]
    return out


def filter_experiments(
    records: Iterable[Mapping[str, Any]],
    *,
    experiment_container_ids: Sequence[int] | None = None,
    stimuli: Sequence[str] | None = None,
    include_failed: bool = False,
) -> list[Mapping[str, Any]]:
    """``get_ophys_experiments``' filter (``filter_ophys_experiments``).

    Parameters
    ----------
    records : iterable of mapping
        ``ophys_experiments.json`` records.
    experiment_container_ids : sequence of int, optional
    stimuli : sequence of str, optional
        Keeps experiments whose session type (``stimulus_name``) shows any of them.
    include_failed : bool
        Keep experiments of failed containers (failed experiments are always dropped).

    Returns
    -------
    list of mapping
        The kept records, in file order.
    """
    out = [r for r in records if not r.get("failed", False)]
    if not include_failed:
        out = [r for r in out if not (r.get("experiment_container") or {}).get("failed", False)]
    if experiment_container_ids is not None:
        out = [r for r in out if r.get("experiment_container_id") in experiment_container_ids]
    if stimuli is not None:
        wanted = set(stimuli)
        out = [r for r in out if wanted & set(SESSION_STIMULI.get(r.get("stimulus_name"), ()))]
    return out


# --------------------------------------------------------------------------- selection


def _selected_rows(
    containers: list,
    experiments: list,
    specs: dict[str, str],
    area: str,
    depth: int,
    cre: str,
    stimuli: Sequence[str],
) -> list[dict[str, Any]]:
    rows = []
    chosen = filter_containers(
        containers, targeted_structures=[area], imaging_depths=[depth], cre_lines=[cre]
    )
    for container in chosen:
        for stimulus in stimuli:
            exps = filter_experiments(
                experiments, experiment_container_ids=[container["id"]], stimuli=[stimulus]
            )
            rows += [
                {
                    "area": area,
                    "depth": int(depth),
                    "stimulus": stimulus,
                    "container_id": int(container["id"]),
                    "experiment_id": int(e["id"]),
                    "session_type": str(e.get("stimulus_name")),
                    "nwb": specs["EXPERIMENT_DATA"] % int(e["id"]),
                    "events": specs["EVENTS_DATA"] % int(e["id"]),
                }
                for e in exps
            ]
    return rows


def _check_files(rows: pd.DataFrame) -> None:
    for row in rows.itertuples(index=False):
        for kind, path in (("NWB", row.nwb), ("events", row.events)):
            if not Path(path).is_file():
                raise DataFileError(
                    f"experiment {row.experiment_id} ({row.area}, {row.depth} µm, "
                    f"{row.session_type}, container {row.container_id}): its {kind} file is "
                    f"missing, expected at {path}; fetch it with "
                    "workflow/scripts/mouse_rsa/download_allen.py or place it there"
                )


def select_experiments(
    cache_dir: str | os.PathLike,
    areas: Sequence[str] = AREAS,
    depths: Sequence[int] = DEPTHS,
    cre_line: str = CRE_LINE,
    stimuli: Sequence[str] = STIMULI,
    *,
    check_files: bool = True,
) -> pd.DataFrame:
    """The experiments of each area × depth × stimulus, as the SDK's cache selects them.

    Parameters
    ----------
    cache_dir : path-like
        The cache folder (with ``manifest.json`` or ``brain_observatory_manifest.json``) or the
        manifest file itself.
    areas, depths, cre_line, stimuli
        The selection (methods §5.1).
    check_files : bool
        Require every selected experiment's NWB and events file to exist.

    Returns
    -------
    pandas.DataFrame
        One row per experiment and stimulus, columns :data:`SELECTION_COLUMNS`, in the loop order
        area, depth, container (file order), stimulus, experiment (file order); ``nwb`` and
        ``events`` are absolute paths (strings).

    Raises
    ------
    DataFileError
        A missing or unreadable manifest or JSON list; an area × depth × stimulus with no
        experiment (names them and the cre line); a missing NWB or events file (names the
        experiment id and the expected path).
    """
    manifest = find_manifest(cache_dir)
    specs = read_manifest(manifest)
    missing = [k for k in _SPEC_KEYS if k not in specs]
    if missing:
        raise DataFileError(f"{manifest}: manifest entry {missing[0]!r} is missing")
    containers = read_json_records(specs["EXPERIMENT_CONTAINERS"], "experiment container")
    experiments = read_json_records(specs["EXPERIMENTS"], "ophys experiment")
    rows: list[dict[str, Any]] = []
    for area in areas:
        for depth in depths:
            found = _selected_rows(containers, experiments, specs, area, depth, cre_line, stimuli)
            for stimulus in stimuli:
                if not any(r["stimulus"] == stimulus for r in found):
                    raise DataFileError(
                        f"{specs['EXPERIMENTS']}: no {cre_line} experiment with {stimulus} for "
                        f"area {area} at depth {depth} µm (no cells after selection; "
                        f"{len(filter_containers(containers, targeted_structures=[area]))} "
                        f"container(s) of {area} in {specs['EXPERIMENT_CONTAINERS']})"
                    )
            rows += found
    table = pd.DataFrame(rows, columns=list(SELECTION_COLUMNS))
    if check_files:
        _check_files(table)
    return table
