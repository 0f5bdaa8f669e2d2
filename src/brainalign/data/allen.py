"""Allen Brain Observatory (visual coding, 2-photon) read without the AllenSDK: selection, NWB
stimulus tables, templates, cell ids, L0 events, and the responses of Crijnen (2024).

The SDK (allensdk 2.16.2) pins numpy 1.23 and lives in its own environment (``envs/allensdk.yaml``,
``make .venv-allensdk/.installed``); it is only needed to *download* a cache
(``workflow/scripts/mouse_rsa/download_allen.py``). Everything here reads the cache's files with
h5py and numpy and returns what the SDK returns (the equality is tested against the SDK in
``tests/studies/mouse_rsa/test_allen_sdk.py``):

* :func:`select_experiments` (from :mod:`brainalign.data.allen_cache`, with the manifest and JSON
  formats) — the cache's container and experiment selection;
* :func:`read_stimulus_table` — ``BrainObservatoryNwbDataSet.get_stimulus_table``;
  :func:`read_template` — ``get_stimulus_template``; :func:`read_cell_ids` —
  ``get_cell_specimen_ids``; :func:`read_events` — ``get_ophys_experiment_events``.

Responses (methods §5.1): :func:`scene_responses` (trials, 118, cells) — the sum of the events
over the 15 frames from each presentation's start frame (presentations last 7-8 frames and follow
each other without a gap, so the window also spans the next presentation, as in the original);
:func:`movie_responses` (repeats, 60, cells) — the event value at the start frame of each of the
900 movie frames, averaged in 60 non-overlapping bins of 15 frames; :func:`pseudo_population`
concatenates experiments along the cell axis; :func:`allen_area_responses` does all of it for
one area, its depths and a stimulus.

Every bad input raises one :class:`~brainalign.data.base.DataFileError` naming the file, key or
value (a missing NWB or events file with the experiment id and the path expected; a stimulus
table whose windows leave the event frames or whose image index is outside 0..117; an area with
no experiment or no cell, with its area, depth and stimulus).

Original data: Allen Institute MindScope Program, Allen Brain Observatory — Visual Coding
(de Vries et al. 2020, Nat Neurosci 23:138-151); not redistributed with this project.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from brainalign.data.allen_cache import (
    AREAS,
    CRE_LINE,
    DEPTHS,
    NWB_PATHS,
    SELECTION_COLUMNS,
    STIMULI,
    select_experiments,
)
from brainalign.data.base import DataFileError, file_error

__all__ = [
    "AREAS",
    "DEPTHS",
    "CRE_LINE",
    "STIMULI",
    "N_SCENES",
    "MOVIE_FRAMES",
    "MOVIE_BIN",
    "SCENE_WINDOW",
    "SELECTION_COLUMNS",
    "allen_area_responses",
    "movie_responses",
    "pseudo_population",
    "read_cell_ids",
    "read_events",
    "read_session_type",
    "read_stimulus_table",
    "read_template",
    "scene_responses",
    "select_experiments",
]

N_SCENES = 118
MOVIE_FRAMES = 900
#: Frames per movie bin (the models' clip length, ``seq_len``).
MOVIE_BIN = 15
#: Frames summed from each scene presentation's start frame.
SCENE_WINDOW = 15

_log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- NWB and events


@contextlib.contextmanager
def _open_nwb(nwb: str | os.PathLike) -> Iterator[h5py.File]:
    path = Path(nwb)
    if not path.is_file():
        raise DataFileError(f"{path}: NWB file missing")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise file_error(path, "NWB (HDF5) file", exc) from exc
    with handle:
        yield handle


def _dataset(f: h5py.File, path: Path, key: str) -> np.ndarray:
    obj = f.get(key)
    if not isinstance(obj, h5py.Dataset):
        raise DataFileError(f"{path}: key '{key}' is missing (not an HDF5 dataset in the file)")
    return obj[()]


def _presentation_group(f: h5py.File, path: Path, stimulus: str) -> h5py.Group:
    """``_find_stimulus_presentation_group``: the one object under ``stimulus/presentation``
    whose last name part is ``<stimulus>`` or ``<stimulus>_stimulus``."""
    base = NWB_PATHS["presentation"]
    names = (stimulus, f"{stimulus}_stimulus")
    found: list[Any] = []
    if isinstance(f.get(base), h5py.Group):
        f[base].visititems(
            lambda name, obj: found.append(obj) if name.split("/")[-1] in names else None
        )
    if len(found) != 1:
        present = sorted(f[base]) if isinstance(f.get(base), h5py.Group) else []
        what = "is missing" if not found else f"is ambiguous ({[o.name for o in found]})"
        raise DataFileError(
            f"{path}: key '{base}/{stimulus}_stimulus' {what} (presentations in the file: "
            f"{present})"
        )
    return found[0]


def _last_named(group: h5py.Group, path: Path, relname: str) -> np.ndarray:
    """``load_datasets_by_relnames``: the last object named ``relname`` in visiting order."""
    found: list[Any] = []
    group.visititems(
        lambda name, obj: found.append(obj) if name.split("/")[-1] == relname else None
    )
    if not found or not isinstance(found[-1], h5py.Dataset):
        raise DataFileError(f"{path}: key '{group.name}/{relname}' is missing")
    return found[-1][()]


def read_stimulus_table(nwb: str | os.PathLike, stimulus: str) -> pd.DataFrame:
    """The SDK's ``get_stimulus_table(stimulus)`` for natural scenes or a natural movie.

    Parameters
    ----------
    nwb : path-like
        An experiment's NWB file.
    stimulus : str
        ``natural_scenes`` (an indexed time series) or ``natural_movie_one`` / ``_two`` /
        ``_three`` (a repeated one).

    Returns
    -------
    pandas.DataFrame
        ``frame`` (the dtype of ``data``: image index, -1 = blank; or movie frame), ``start``,
        ``end`` (int64, 2-photon frames: ``frame_duration[:, 0:2].astype(int)``), sorted by
        (start, end) keeping the original row index; movies add ``repeat`` (int64, row position
        // number of distinct frames).

    Raises
    ------
    DataFileError
        Missing stimulus group or dataset, mismatched shapes, or (movies) a row count that is not
        a multiple of the number of distinct frames.
    """
    path = Path(nwb)
    if not stimulus.startswith(("natural_scenes", "natural_movie")):
        raise ValueError(f"stimulus must be natural_scenes or natural_movie_*, got {stimulus!r}")
    with _open_nwb(path) as f:
        group = _presentation_group(f, path, stimulus)
        key = group.name
        data = np.asarray(_last_named(group, path, "data"))
        frame_dur = np.asarray(_last_named(group, path, "frame_duration"))
    if data.ndim != 1 or frame_dur.shape[:1] != data.shape or frame_dur.shape[1:2] != (2,):
        raise DataFileError(
            f"{path}: key '{key}/frame_duration' has shape {frame_dur.shape}, expected "
            f"({data.size}, 2) (start and end frame of each of the {data.shape} rows of 'data')"
        )
    table = pd.DataFrame(data, columns=["frame"])
    table["start"] = frame_dur[:, 0].astype(int)
    table["end"] = frame_dur[:, 1].astype(int)
    table = table.sort_values(["start", "end"])
    if stimulus.startswith("natural_movie"):
        n_frames = table["frame"].nunique()
        if n_frames == 0 or len(table) % n_frames:
            raise DataFileError(
                f"{path}: key '{key}/data' has {len(table)} rows, not a multiple of its "
                f"{n_frames} distinct movie frames (the repeat count cannot be trusted)"
            )
        table["repeat"] = np.repeat(range(len(table) // n_frames), n_frames)
    return table


def read_template(nwb: str | os.PathLike, stimulus: str) -> np.ndarray:
    """``get_stimulus_template``: ``stimulus/templates/<stimulus>_image_stack/data``.

    Returns
    -------
    ndarray, shape (n, H, W)
        As stored (real files: uint8; scenes (118, 918, 1174), movie one (900, 304, 608)).
    """
    path = Path(nwb)
    with _open_nwb(path) as f:
        return np.asarray(
            _dataset(f, path, f"{NWB_PATHS['templates']}/{stimulus}_image_stack/data")
        )


def read_cell_ids(nwb: str | os.PathLike) -> np.ndarray:
    """``get_cell_specimen_ids``: ``.../ImageSegmentation/cell_specimen_ids``, shape (cells,)."""
    path = Path(nwb)
    with _open_nwb(path) as f:
        ids = np.asarray(_dataset(f, path, NWB_PATHS["cell_ids"]))
    if ids.ndim != 1:
        raise DataFileError(f"{path}: key '{NWB_PATHS['cell_ids']}' should be 1-D, got {ids.shape}")
    return ids


def read_session_type(nwb: str | os.PathLike) -> str:
    """``get_session_type``: ``general/session_type`` (e.g. ``three_session_B``)."""
    path = Path(nwb)
    with _open_nwb(path) as f:
        value = _dataset(f, path, NWB_PATHS["session_type"])
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_events(events_path: str | os.PathLike) -> np.ndarray:
    """``get_ophys_experiment_events``: key ``ev`` of the events ``.npz``.

    Returns
    -------
    ndarray, shape (cells, frames)
        As stored (L0 event magnitudes, non-negative), one column per 2-photon frame.

    Raises
    ------
    DataFileError
        Missing or unreadable file, no ``ev`` key, not a finite real 2-D array.
    """
    path = Path(events_path)
    if not path.is_file():
        raise DataFileError(f"{path}: events file missing (the experiment has no L0 events)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "ev" not in npz.files:
                raise DataFileError(f"{path}: key 'ev' is missing (keys: {npz.files})")
            events = npz["ev"]
    except DataFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise file_error(path, "NumPy .npz archive", exc) from exc
    if events.ndim != 2 or events.dtype.kind not in "fiu" or not np.isfinite(events).all():
        raise DataFileError(
            f"{path}: key 'ev' should be a finite real (cells, frames) array, got "
            f"{events.dtype} {events.shape}"
        )
    return events


# --------------------------------------------------------------------------- responses


def _frames(table: pd.DataFrame, where: str) -> np.ndarray:
    frame = np.asarray(table["frame"])
    if frame.dtype.kind == "f" and not np.all(frame == np.round(frame)):
        raise DataFileError(f"{where}: the 'frame' column holds non-integer values")
    return frame.astype(np.int64)


def _check_window(starts: np.ndarray, width: int, n_frames: int, where: str, what: str) -> None:
    bad = np.flatnonzero((starts < 0) | (starts + width > n_frames))
    if bad.size:
        raise DataFileError(
            f"{where}: {what} {bad[0]} starts at frame {starts[bad[0]]}, its {width}-frame "
            f"window leaves the {n_frames} event frames (0..{n_frames - 1}); "
            f"{bad.size} such rows"
        )


def scene_responses(
    events: np.ndarray, table: pd.DataFrame, n_frames: int = SCENE_WINDOW, *, source: str = ""
) -> np.ndarray:
    """Natural-scene responses: the events summed over ``n_frames`` from each start frame.

    Each image's presentations are taken in time order. When the images have unequal numbers of
    presentations (real sessions have 50 each), every image keeps its first ``min`` presentations
    and a warning is logged. Blank rows (frame -1) are skipped.

    Parameters
    ----------
    events : ndarray, shape (cells, frames)
    table : pandas.DataFrame
        :func:`read_stimulus_table` (``frame``, ``start``).
    n_frames : int
        Window length (15 in the original).
    source : str
        Named in error messages (e.g. the experiment and its NWB file).

    Returns
    -------
    ndarray, shape (trials, 118, cells), float64

    Raises
    ------
    DataFileError
        An image index outside -1..117, an image never shown, or a window past the last event
        frame.
    """
    where = f"natural_scenes table of {source or 'the experiment'}"
    events = np.asarray(events)
    frame = _frames(table, where)
    bad = np.flatnonzero((frame < -1) | (frame >= N_SCENES))
    if bad.size:
        raise DataFileError(
            f"{where}: image index {frame[bad[0]]} outside 0..{N_SCENES - 1} (or -1 = blank) "
            f"in row {bad[0]}; {bad.size} such rows"
        )
    starts = np.asarray(table["start"], dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    frame, starts = frame[order], starts[order]
    _check_window(starts[frame >= 0], n_frames, events.shape[1], where, "presentation")
    per_image = [starts[frame == i] for i in range(N_SCENES)]
    counts = np.array([len(s) for s in per_image])
    if counts.min() == 0:
        raise DataFileError(f"{where}: image {int(np.argmin(counts))} is never presented")
    trials = int(counts.min())
    if counts.max() != trials:
        _log.warning(
            "%s: images have %d-%d presentations; keeping the first %d of each",
            where,
            trials,
            counts.max(),
            trials,
        )
    offsets = np.arange(n_frames)
    out = np.empty((trials, N_SCENES, events.shape[0]))
    for i, image_starts in enumerate(per_image):
        idx = image_starts[:trials, None] + offsets
        out[:, i, :] = events[:, idx].sum(axis=2, dtype=np.float64).T
    return out


def movie_responses(
    events: np.ndarray, table: pd.DataFrame, bin: int = MOVIE_BIN, *, source: str = ""
) -> np.ndarray:
    """Natural-movie responses: the event at each movie frame's start, averaged in bins.

    Parameters
    ----------
    events : ndarray, shape (cells, frames)
    table : pandas.DataFrame
        :func:`read_stimulus_table` of a movie (``frame`` 0..899, ``start``, ``repeat``); every
        repeat must show each of the 900 frames exactly once.
    bin : int
        Frames per bin; 900 must be a multiple (15 -> 60 bins).
    source : str
        Named in error messages.

    Returns
    -------
    ndarray, shape (repeats, 900 // bin, cells), float64
        Mean over each bin's frames of ``events[:, start]``.

    Raises
    ------
    DataFileError
        A frame outside 0..899, a repeat missing or repeating a frame, or a start frame past the
        last event frame.
    """
    if bin < 1 or MOVIE_FRAMES % bin:
        raise ValueError(f"bin must divide {MOVIE_FRAMES}, got {bin}")
    where = f"natural_movie table of {source or 'the experiment'}"
    events = np.asarray(events)
    frame = _frames(table, where)
    bad = np.flatnonzero((frame < 0) | (frame >= MOVIE_FRAMES))
    if bad.size:
        raise DataFileError(
            f"{where}: movie frame {frame[bad[0]]} outside 0..{MOVIE_FRAMES - 1} in row {bad[0]}"
        )
    if "repeat" not in table:
        raise DataFileError(f"{where}: no 'repeat' column (not a movie table)")
    starts = np.asarray(table["start"], dtype=np.int64)
    repeat = np.asarray(table["repeat"], dtype=np.int64)
    _check_window(starts, 1, events.shape[1], where, "movie row")
    n_rep = int(repeat.max()) + 1
    grid = np.full((n_rep, MOVIE_FRAMES), -1, dtype=np.int64)
    grid[repeat, frame] = starts
    counts = np.zeros((n_rep, MOVIE_FRAMES), dtype=np.int64)
    np.add.at(counts, (repeat, frame), 1)
    if (counts != 1).any():
        r, k = np.argwhere(counts != 1)[0]
        raise DataFileError(
            f"{where}: repeat {r} shows movie frame {k} {counts[r, k]} times (expected once)"
        )
    values = events[:, grid].astype(np.float64)  # (cells, repeats, 900)
    binned = values.reshape(events.shape[0], n_rep, MOVIE_FRAMES // bin, bin).mean(axis=3)
    return np.ascontiguousarray(binned.transpose(1, 2, 0))


def pseudo_population(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate experiments' responses along the cell axis.

    Parameters
    ----------
    arrays : sequence of ndarray, each shape (trials_k, n_stimuli, cells_k)
        Same ``n_stimuli``. Unequal trial (repeat) counts are truncated to the smallest, keeping
        each experiment's first trials in time order, and logged.

    Returns
    -------
    ndarray, shape (min trials_k, n_stimuli, sum cells_k)
    """
    arrays = [np.asarray(a) for a in arrays]
    if not arrays:
        raise ValueError("pseudo_population needs at least one response array")
    shapes = [a.shape for a in arrays]
    if any(len(s) != 3 for s in shapes) or len({s[1] for s in shapes}) != 1:
        raise ValueError(f"response arrays must be (trials, stimuli, cells), got shapes {shapes}")
    trials = min(s[0] for s in shapes)
    if any(s[0] != trials for s in shapes):
        _log.warning(
            "pseudo-population: trial counts %s differ; keeping the first %d of each",
            [s[0] for s in shapes],
            trials,
        )
    return np.concatenate([a[:trials] for a in arrays], axis=2)


def allen_area_responses(
    selection: pd.DataFrame,
    area: str,
    stimulus: str,
    depths: Sequence[int] | None = None,
    *,
    n_frames: int = SCENE_WINDOW,
    bin: int = MOVIE_BIN,
) -> tuple[np.ndarray, pd.DataFrame]:
    """The pseudo-population of one area (its depths) for one stimulus.

    Parameters
    ----------
    selection : pandas.DataFrame
        :func:`select_experiments`.
    area, stimulus : str
    depths : sequence of int, optional
        Default: every depth of ``area`` in ``selection``.
    n_frames, bin : int
        See :func:`scene_responses`, :func:`movie_responses`.

    Returns
    -------
    responses : ndarray, shape (trials, 118 or 60, cells), float64
    cells : pandas.DataFrame
        One row per cell column: ``area``, ``depth``, ``container_id``, ``experiment_id``,
        ``session_type``, ``cell_specimen_id``.

    Raises
    ------
    DataFileError
        No experiment or no cell for the area × depths × stimulus (names them), an events file
        whose row count differs from the NWB's cell ids, or any reading error.
    """
    rows = selection[(selection["area"] == area) & (selection["stimulus"] == stimulus)]
    if depths is not None:
        rows = rows[rows["depth"].isin(list(depths))]
    label = f"area {area}, depth {list(depths) if depths is not None else 'all'}, {stimulus}"
    if rows.empty:
        raise DataFileError(f"{label}: no experiment after selection (no cells)")
    arrays, cells = [], []
    for row in rows.itertuples(index=False):
        events = read_events(row.events)
        ids = read_cell_ids(row.nwb)
        if events.shape[0] != ids.shape[0]:
            raise DataFileError(
                f"{row.events}: key 'ev' has {events.shape[0]} rows but {row.nwb} lists "
                f"{ids.shape[0]} cell ids (experiment {row.experiment_id})"
            )
        table = read_stimulus_table(row.nwb, stimulus)
        source = f"experiment {row.experiment_id} ({row.nwb})"
        if stimulus == "natural_scenes":
            arrays.append(scene_responses(events, table, n_frames, source=source))
        else:
            arrays.append(movie_responses(events, table, bin, source=source))
        meta = {k: getattr(row, k) for k in ("area", "depth", "container_id", "experiment_id")}
        cells += [
            {**meta, "session_type": row.session_type, "cell_specimen_id": int(c)} for c in ids
        ]
    if not cells:
        raise DataFileError(
            f"{label}: no cells after selection ({len(rows)} experiments, all with 0 cells)"
        )
    return pseudo_population(arrays), pd.DataFrame(cells)
