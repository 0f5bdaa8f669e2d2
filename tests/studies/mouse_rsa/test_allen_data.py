"""The Allen Brain Observatory reader, responses and simulated cache (brainalign.data.allen*).

Responses are checked against hand computations (explicit loops over the table rows) on a tiny
fixture written here; the reader on the simulated cache; the simulator against its planted truth
(the areas' reliability order, low-level vs deep structure) and for byte-stable output; every
bad input for its one DataFileError naming the culprit.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.stats import spearmanr

from brainalign.data import DataFileError
from brainalign.data.allen import (
    AREAS,
    DEPTHS,
    MOVIE_BIN,
    SELECTION_COLUMNS,
    allen_area_responses,
    movie_responses,
    pseudo_population,
    read_cell_ids,
    read_events,
    read_session_type,
    read_stimulus_table,
    read_template,
    scene_responses,
    select_experiments,
)
from brainalign.data.allen_planted import RELIABILITY_ORDER, split_half_reliability
from brainalign.data.allen_simulate import simulate_allen_cache
from brainalign.data.allen_write import write_allen_events, write_allen_nwb
from brainalign.io.files import is_temp_name

# --------------------------------------------------------------------------- tiny fixture

N_CELLS = 3


def _tiny_tables(rng: np.random.Generator) -> tuple[dict, int]:
    """Scenes: 2 presentations of every image (3 of image 5) and 2 blanks, 8 frames apart, in a
    random order; movie: 2 repeats of 900 frames. Rows are stored shuffled (the reader sorts)."""
    items = rng.permutation(np.concatenate([np.repeat(np.arange(-1, 118), 2), [5]]))
    starts = 20 + 8 * np.arange(items.size)
    scene_fd = np.column_stack([starts, starts + 7]).astype(float)
    first = int(starts[-1]) + 40
    movie_starts = first + np.arange(1800)
    movie = (np.tile(np.arange(900), 2), np.column_stack([movie_starts, movie_starts + 1]))
    order = rng.permutation(items.size)
    tables = {
        "natural_scenes": (items[order], scene_fd[order]),
        "natural_movie_one": (movie[0], movie[1].astype(float)),
    }
    return tables, first + 1800 + 30


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    rng = np.random.default_rng(7)
    folder = tmp_path_factory.mktemp("tiny")
    tables, n_frames = _tiny_tables(rng)
    events = rng.integers(0, 4, size=(N_CELLS, n_frames)) * (rng.random((N_CELLS, n_frames)) < 0.3)
    events = events.astype(np.float32)
    nwb = write_allen_nwb(
        folder / "1.nwb",
        metadata={"session_type": "three_session_B"},
        presentations=tables,
        templates={
            "natural_scenes": np.zeros((118, 4, 5)),
            "natural_movie_one": np.ones((900, 2, 4)),
        },
        cell_ids=[11, 12, 13],
        dff=events,
        timestamps=np.arange(n_frames) / 30,
    )
    path = write_allen_events(folder / "1_events.npz", events)
    return {"nwb": nwb, "events_path": path, "events": events, "tables": tables}


def hand_scene_responses(events: np.ndarray, frame: np.ndarray, start: np.ndarray) -> np.ndarray:
    per_image: dict[int, list[np.ndarray]] = {i: [] for i in range(118)}
    for k in np.argsort(start, kind="stable"):
        if frame[k] >= 0:
            window = np.zeros(events.shape[0])
            for f in range(start[k], start[k] + 15):
                window += events[:, f]
            per_image[int(frame[k])].append(window)
    trials = min(len(v) for v in per_image.values())
    out = np.zeros((trials, 118, events.shape[0]))
    for i, windows in per_image.items():
        for t in range(trials):
            out[t, i] = windows[t]
    return out


def hand_movie_responses(events: np.ndarray, frame, start, repeat) -> np.ndarray:
    n_rep = int(max(repeat)) + 1
    at = {(int(r), int(f)): int(s) for f, s, r in zip(frame, start, repeat, strict=True)}
    out = np.zeros((n_rep, 900 // MOVIE_BIN, events.shape[0]))
    for r in range(n_rep):
        for b in range(900 // MOVIE_BIN):
            for j in range(MOVIE_BIN):
                out[r, b] += events[:, at[(r, b * MOVIE_BIN + j)]] / MOVIE_BIN
    return out


def test_stimulus_tables_are_sorted_as_the_sdk_does(tiny):
    scenes = read_stimulus_table(tiny["nwb"], "natural_scenes")
    data, fd = tiny["tables"]["natural_scenes"]
    assert list(scenes.columns) == ["frame", "start", "end"]
    assert np.all(np.diff(scenes["start"]) > 0)
    # the original row index is kept: row k of the file is index k
    np.testing.assert_array_equal(scenes["frame"].to_numpy(), data[scenes.index.to_numpy()])
    np.testing.assert_array_equal(scenes["start"].to_numpy(), fd[scenes.index.to_numpy(), 0])
    assert scenes["frame"].dtype == np.int32 and scenes["start"].dtype == np.int64
    movie = read_stimulus_table(tiny["nwb"], "natural_movie_one")
    assert list(movie.columns) == ["frame", "start", "end", "repeat"]
    np.testing.assert_array_equal(movie["repeat"], np.repeat([0, 1], 900))


def test_scene_responses_equal_the_hand_computation(tiny, caplog):
    table = read_stimulus_table(tiny["nwb"], "natural_scenes")
    with caplog.at_level(logging.WARNING):
        got = scene_responses(tiny["events"], table, source="tiny")
    data, fd = tiny["tables"]["natural_scenes"]
    expected = hand_scene_responses(tiny["events"].astype(float), data, fd[:, 0].astype(int))
    assert got.shape == (2, 118, N_CELLS)
    np.testing.assert_array_equal(got, expected)
    assert "keeping the first 2" in caplog.text  # image 5 has 3 presentations


def test_movie_responses_equal_the_hand_computation(tiny):
    table = read_stimulus_table(tiny["nwb"], "natural_movie_one")
    got = movie_responses(tiny["events"], table)
    expected = hand_movie_responses(
        tiny["events"].astype(float), table["frame"], table["start"], table["repeat"]
    )
    assert got.shape == (2, 60, N_CELLS)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_pseudo_population_truncates_to_the_fewest_trials(caplog):
    a, b = np.ones((3, 4, 2)), np.zeros((2, 4, 5))
    with caplog.at_level(logging.WARNING):
        out = pseudo_population([a, b])
    assert out.shape == (2, 4, 7) and out[:, :, :2].all() and not out[:, :, 2:].any()
    assert "keeping the first 2" in caplog.text
    with pytest.raises(ValueError, match="stimuli"):
        pseudo_population([a, np.ones((3, 5, 2))])


# --------------------------------------------------------------------------- simulated cache


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("allen")
    out = simulate_allen_cache(root / "cache", seed=0)
    return {"dir": root / "cache", "root": root, **out}


def test_simulated_cache_reads(cache):
    sel = select_experiments(cache["dir"])
    assert list(sel.columns) == list(SELECTION_COLUMNS)
    assert len(sel) == len(AREAS) * len(DEPTHS) * 4  # 1 scenes + 3 movie experiments each
    scenes = sel[sel["stimulus"] == "natural_scenes"]
    assert set(scenes["session_type"]) == {"three_session_B"}
    movie = sel[sel["stimulus"] == "natural_movie_one"]
    assert sorted(set(movie["session_type"])) == [f"three_session_{s}" for s in "ABC"]
    planted = json.loads(cache["planted"].read_text())
    decoys = {c["container_id"] for c in planted["containers"] if c.get("decoy")}
    assert len(decoys) == 2 and not decoys & set(sel["container_id"])
    row = scenes.iloc[0]
    assert read_template(row.nwb, "natural_scenes").shape == (118, 64, 80)
    assert read_template(row.nwb, "natural_scenes").dtype == np.uint8
    assert read_template(row.nwb, "natural_movie_one").shape == (900, 32, 64)
    assert read_cell_ids(row.nwb).shape == (40,)
    assert read_session_type(row.nwb) == "three_session_B"
    events = read_events(row.events)
    assert events.shape[0] == 40 and events.min() >= 0 and 0.005 < (events > 0).mean() < 0.5
    table = read_stimulus_table(row.nwb, "natural_scenes")
    assert len(table) == 119 * 12 and set(table["frame"]) == set(range(-1, 118))
    resp, cells = allen_area_responses(sel, "VISp", "natural_scenes")
    assert resp.shape == (12, 118, 80) and len(cells) == 80
    resp, cells = allen_area_responses(sel, "VISam", "natural_movie_one", depths=[275])
    assert resp.shape == (10, 60, 120) and set(cells["session_type"]) == {
        f"three_session_{s}" for s in "ABC"
    }
    assert not [p for p in cache["dir"].rglob("*") if is_temp_name(p.name)]


def _reliabilities(sel, stimulus: str) -> dict[str, float]:
    out = {}
    for area in AREAS:
        resp = allen_area_responses(sel, area, stimulus)[0]
        rng = np.random.default_rng(0)
        splits = np.array([rng.permutation(resp.shape[0]) for _ in range(30)])
        out[area] = split_half_reliability(resp, splits)
    return out


@pytest.mark.parametrize("stimulus", ["natural_scenes", "natural_movie_one"])
def test_planted_reliability_order(cache, stimulus):
    rel = _reliabilities(select_experiments(cache["dir"]), stimulus)
    assert tuple(sorted(rel, key=lambda a: -rel[a])) == RELIABILITY_ORDER[stimulus], rel
    planted = json.loads(cache["planted"].read_text())
    assert planted["reliability_order"][stimulus] == list(RELIABILITY_ORDER[stimulus])


@pytest.mark.parametrize("stimulus", ["natural_scenes", "natural_movie_one"])
def test_planted_order_holds_for_the_studys_tau_a_ceiling(cache, stimulus):
    """The study's ceiling (median split-half Kendall tau-a, rsa.noise_ceiling) ranks the same."""
    module = importlib.import_module("brainalign.rsa.noise_ceiling")
    ceiling = getattr(module, "split_half_ceiling", None)
    if ceiling is None:
        pytest.skip("brainalign.rsa.noise_ceiling.split_half_ceiling is not there yet")
    sel = select_experiments(cache["dir"])
    med = {
        area: float(
            np.median(ceiling(allen_area_responses(sel, area, stimulus)[0], 20, 0)["split"])
        )
        for area in AREAS
    }
    assert tuple(sorted(med, key=lambda a: -med[a])) == RELIABILITY_ORDER[stimulus], med


def _rdm(x: np.ndarray) -> np.ndarray:
    return 1 - np.corrcoef(x)[np.triu_indices(x.shape[0], 1)]


def test_planted_low_level_and_deep_areas(cache):
    sel = select_experiments(cache["dir"])
    with np.load(cache["planted_arrays"]) as planted:
        low, deep = _rdm(planted["scene_low"]), _rdm(planted["scene_deep"])
    fits = {}
    for area in ("VISp", "VISam"):
        brain = _rdm(allen_area_responses(sel, area, "natural_scenes")[0].mean(axis=0))
        fits[area] = (spearmanr(brain, low)[0], spearmanr(brain, deep)[0])
    assert fits["VISp"][0] > fits["VISp"][1] + 0.1, fits  # VISp: low-level structure
    assert fits["VISam"][1] > fits["VISam"][0] + 0.1, fits  # VISam: deep structure
    info = json.loads(cache["planted"].read_text())
    assert info["low_level_areas"] == ["VISp", "VISl"] and info["deep_areas"] == ["VISpm", "VISam"]


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _small(folder: Path, seed: int = 0) -> dict:
    return simulate_allen_cache(
        folder / "cache",
        areas=["VISp"],
        depths=[175],
        n_cells_per_experiment=6,
        n_scene_trials=4,
        n_movie_repeats=2,
        seed=seed,
    )


def test_same_seed_gives_byte_identical_files(tmp_path):
    _small(tmp_path / "a")
    _small(tmp_path / "b")
    _small(tmp_path / "c", seed=1)
    a, b, c = (_digests(tmp_path / x) for x in "abc")
    assert len(a) == 3 + 2 * 3 + 2  # manifest + 2 lists, 3 NWB + 3 events, planted.json/.npz
    assert a == b
    assert a["cache/manifest.json"] == c["cache/manifest.json"]
    assert (
        a["cache/ophys_experiment_events/500001752_events.npz"]
        != c["cache/ophys_experiment_events/500001752_events.npz"]
    )


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def small(tmp_path):
    out = _small(tmp_path)
    return {"dir": tmp_path / "cache", **out}


def test_missing_nwb_names_the_experiment_and_path(small):
    sel = select_experiments(small["dir"], areas=["VISp"], depths=[175])
    row = sel.iloc[0]
    Path(row.nwb).unlink()
    with pytest.raises(DataFileError) as err:
        select_experiments(small["dir"], areas=["VISp"], depths=[175])
    assert f"experiment {row.experiment_id}" in str(err.value) and row.nwb in str(err.value)
    assert "NWB file is missing" in str(err.value)


def test_missing_events_names_the_experiment_and_path(small):
    sel = select_experiments(small["dir"], areas=["VISp"], depths=[175])
    row = sel.iloc[1]
    Path(row.events).unlink()
    with pytest.raises(DataFileError) as err:
        select_experiments(small["dir"], areas=["VISp"], depths=[175])
    assert f"experiment {row.experiment_id}" in str(err.value) and row.events in str(err.value)
    with pytest.raises(DataFileError, match="events file missing"):
        read_events(row.events)


def test_area_without_experiments_names_area_depth_stimulus(small):
    with pytest.raises(DataFileError) as err:
        select_experiments(small["dir"], areas=["VISp", "VISam"], depths=[175])
    msg = str(err.value)
    assert "VISam" in msg and "175" in msg and "natural_scenes" in msg


def test_area_with_no_cells_names_area_depth_stimulus(small):
    sel = select_experiments(small["dir"], areas=["VISp"], depths=[175])
    for row in sel.itertuples():
        write_allen_events(row.events, np.zeros((0, read_events(row.events).shape[1])))
        with h5py.File(row.nwb, "a") as f:
            del f["processing/brain_observatory_pipeline/ImageSegmentation/cell_specimen_ids"]
            f["processing/brain_observatory_pipeline/ImageSegmentation/cell_specimen_ids"] = (
                np.zeros(0, dtype=np.int64)
            )
    with pytest.raises(DataFileError) as err:
        allen_area_responses(sel, "VISp", "natural_movie_one", depths=[175])
    msg = str(err.value)
    assert "area VISp" in msg and "175" in msg and "natural_movie_one" in msg
    assert "no cells" in msg


def test_window_past_the_last_event_frame(small):
    sel = select_experiments(small["dir"], areas=["VISp"], depths=[175])
    row = sel[sel["stimulus"] == "natural_scenes"].iloc[0]
    table = read_stimulus_table(row.nwb, "natural_scenes")
    last = int(table["start"][table["frame"] >= 0].max())
    events = read_events(row.events)[:, : last + 10]  # the last window needs last + 15 frames
    write_allen_events(row.events, events)
    with pytest.raises(DataFileError) as err:
        allen_area_responses(sel, "VISp", "natural_scenes")
    msg = str(err.value)
    assert row.nwb in msg and f"starts at frame {last}" in msg and f"{last + 10} event" in msg


def test_movie_start_past_the_last_event_frame(tiny):
    table = read_stimulus_table(tiny["nwb"], "natural_movie_one")
    short = tiny["events"][:, : int(table["start"].max())]
    with pytest.raises(DataFileError, match="1-frame window leaves"):
        movie_responses(short, table, source="exp 1")


def test_image_index_out_of_range(tiny):
    table = read_stimulus_table(tiny["nwb"], "natural_scenes").copy()
    table.loc[table.index[4], "frame"] = 118
    with pytest.raises(DataFileError, match="image index 118 outside 0..117") as err:
        scene_responses(tiny["events"], table, source="experiment 99 (x.nwb)")
    assert "experiment 99 (x.nwb)" in str(err.value)


def test_bad_nwb_and_events_files(tmp_path, tiny):
    bad = tmp_path / "bad.nwb"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 50)
    with pytest.raises(DataFileError, match="cannot be read as a NWB"):
        read_cell_ids(bad)
    with pytest.raises(DataFileError, match="natural_movie_two_stimulus' is missing"):
        read_stimulus_table(tiny["nwb"], "natural_movie_two")
    with pytest.raises(DataFileError, match="natural_movie_two_image_stack/data' is missing"):
        read_template(tiny["nwb"], "natural_movie_two")
    broken = tmp_path / "broken.nwb"
    shutil.copy(tiny["nwb"], broken)
    with h5py.File(broken, "a") as f:
        del f["stimulus/presentation/natural_scenes_stimulus/frame_duration"]
        f["stimulus/presentation/natural_scenes_stimulus/frame_duration"] = np.zeros((3, 2))
        f["stimulus/presentation/natural_movie_one_stimulus/data"][0] = 5  # frame 5 shown twice
    with pytest.raises(DataFileError, match=r"natural_scenes_stimulus/frame_duration' has shape"):
        read_stimulus_table(broken, "natural_scenes")
    with pytest.raises(DataFileError, match=r"repeat 0 shows movie frame 0 0 times"):
        movie_responses(tiny["events"], read_stimulus_table(broken, "natural_movie_one"))
    npz = tmp_path / "e.npz"
    np.savez(npz, events=np.zeros((2, 3)))
    with pytest.raises(DataFileError, match="key 'ev' is missing"):
        read_events(npz)


def test_missing_manifest_and_lists(tmp_path, small):
    with pytest.raises(DataFileError, match="no AllenSDK cache manifest"):
        select_experiments(tmp_path / "nowhere")
    copy = tmp_path / "copy"
    shutil.copytree(small["dir"], copy)
    (copy / "ophys_experiments.json").unlink()
    with pytest.raises(DataFileError, match="ophys_experiments.json: the ophys experiment list"):
        select_experiments(copy, areas=["VISp"], depths=[175])
