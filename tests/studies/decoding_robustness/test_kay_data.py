"""The Kay 2008 loader, writer and simulator (brainalign.data.kay2008, kay2008_simulate).

The loader is checked against files written in the real format with expectations computed here,
independently (the original's class filter, its ``filter_voxel_by_roi`` and ``convert_arr_to_img``
re-typed from theairbend3r/decoding-thoughts ``src/utils/util.py``); the simulator against its
planted truth.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from brainalign.data import DataFileError
from brainalign.data.kay2008 import (
    DROPPED_CLASSES,
    FILES,
    KEPT_CLASSES,
    ROI_NAMES,
    kay_paths,
    load_kay,
    rescale_to_uint8,
    voxel_columns,
    write_kay,
)
from brainalign.data.kay2008_simulate import planted_embedding, simulate_kay

N_TRAIN, N_TEST, SIZE, N_VOX = 40, 12, 64, 80
CLASS_CYCLE = (
    "animal",
    "person",
    "artifact",
    "geological formation",
    "animal",
    "fungus",
    "artifact",
    "fruit",
    "plant",
    "entity",
    "artifact",
)


# --------------------------------------------------------------------------- oracles


def original_rescale(stimuli: np.ndarray) -> np.ndarray:
    """``convert_arr_to_img`` (per image, int truncation) then the dataset's ``astype(uint8)``."""
    out = np.zeros(stimuli.shape)
    for i in range(stimuli.shape[0]):
        img = stimuli[i, :, :]
        img = ((img - np.min(img)) * 255 / (np.max(img) - np.min(img))).astype(int)
        out[i, :, :] = img
    return out.astype(np.uint8)


def original_voxel_filter(roi: np.ndarray) -> np.ndarray:
    """``filter_voxel_by_roi(all_data, [1, ..., 7])`` as written in the original."""
    final_idx_list: list[int] = []
    for i in [1, 2, 3, 4, 5, 6, 7]:
        final_idx_list.extend(np.where(roi == i)[0].tolist())
    return np.where(final_idx_list)[0]


def expected_items(level0: list[str]) -> tuple[list[int], list[int]]:
    ids = {"animal": 0, "artifact": 1, "geological formation": 2}
    keep = [i for i, c in enumerate(level0) if c not in DROPPED_CLASSES]
    return keep, [ids[level0[i]] for i in keep]


# --------------------------------------------------------------------------- fixture


def fixture_arrays(seed: int = 1, roi0: int = 1) -> dict[str, np.ndarray]:
    """Real-format arrays, scaled down: 40 train, 12 test, 64×64, 80 voxels."""
    rng = np.random.default_rng(seed)
    roi = rng.integers(0, 8, size=N_VOX)
    roi[0] = roi0
    roi[-3:] = 7  # the "first_columns" quirk then misses some ROI voxels at the end

    def labels(n: int, shift: int) -> np.ndarray:
        level0 = [CLASS_CYCLE[(i + shift) % len(CLASS_CYCLE)] for i in range(n)]
        rows = [level0, [f"l1_{c}" for c in level0], [f"l2_{i}" for i in range(n)]]
        return np.array([*rows, [f"leaf {i}" for i in range(n)]])

    return {
        "stimuli": rng.normal(size=(N_TRAIN, SIZE, SIZE)) * 3 + 1,
        "stimuli_test": rng.normal(size=(N_TEST, SIZE, SIZE)),
        "responses": rng.normal(size=(N_TRAIN, N_VOX)),
        "responses_test": rng.normal(size=(N_TEST, N_VOX)),
        "roi": roi,
        "roi_names": list(ROI_NAMES),
        "labels": labels(N_TRAIN, 0),
        "labels_val": labels(N_TEST, 3),
    }


def load_dir(folder: Path, **kwargs):
    return load_kay(*kay_paths(folder).values(), **kwargs)


def test_write_kay_writes_the_real_format(tmp_path):
    arrays = fixture_arrays()
    paths = write_kay(tmp_path, **arrays)
    assert {role: p.name for role, p in paths.items()} == FILES
    with np.load(paths["images"], allow_pickle=False) as d:
        dat = dict(**d)
    assert set(dat) == {
        "stimuli",
        "stimuli_test",
        "responses",
        "responses_test",
        "roi",
        "roi_names",
    }
    assert dat["stimuli"].dtype == np.float32 and dat["stimuli"].shape == (N_TRAIN, SIZE, SIZE)
    assert dat["responses_test"].dtype == np.float32 and dat["responses_test"].shape == (12, 80)
    assert dat["roi"].dtype.kind == "i" and dat["roi_names"].dtype.kind == "U"
    labels = np.load(paths["labels"], allow_pickle=False)
    assert labels.shape == (4, N_TRAIN) and labels.dtype.kind == "U"
    assert np.load(paths["labels_val"]).shape == (4, N_TEST)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES.values())  # no temp files


@pytest.mark.parametrize("roi0", [1, 0], ids=["voxel0-in-V1", "voxel0-other"])
def test_load_kay_filters_items_and_voxels_as_the_original(tmp_path, roi0):
    arrays = fixture_arrays(roi0=roi0)
    write_kay(tmp_path, **arrays)
    stim = arrays["stimuli"].astype(np.float32)
    keep_tr, ids_tr = expected_items(list(arrays["labels"][0]))
    keep_te, ids_te = expected_items(list(arrays["labels_val"][0]))
    visual = [j for j in range(N_VOX) if 1 <= arrays["roi"][j] <= 7]
    quirk = original_voxel_filter(arrays["roi"])
    assert len(quirk) == len(visual) - (roi0 != 0)
    assert list(quirk) != visual
    for voxel_filter, cols in (("roi", visual), ("first_columns", list(quirk))):
        kay = load_dir(tmp_path, voxel_filter=voxel_filter)
        assert kay.voxel_filter == voxel_filter
        assert kay.index_train.tolist() == keep_tr and kay.index_test.tolist() == keep_te
        assert kay.labels_train.tolist() == ids_tr and kay.labels_test.tolist() == ids_te
        assert kay.labels_train.dtype == np.int64 and kay.class_names == KEPT_CLASSES
        assert kay.voxel_index.tolist() == cols
        assert kay.roi.tolist() == arrays["roi"][cols].tolist()
        want = arrays["responses"].astype(np.float32)[np.ix_(keep_tr, cols)]
        assert kay.responses_train.dtype == np.float32
        np.testing.assert_array_equal(kay.responses_train, want)
        assert kay.responses_test.shape == (len(keep_te), len(cols))
        assert kay.images_train.dtype == np.uint8
        np.testing.assert_array_equal(kay.images_train, original_rescale(stim[keep_tr]))
        assert kay.wordnet_test.shape == (len(keep_te), 4)
        assert kay.wordnet_train[:, 3].tolist() == [f"leaf {i}" for i in keep_tr]
        assert kay.roi_names == ROI_NAMES
    # the original's class ids: np.unique order of the kept level-0 labels
    level0 = arrays["labels"][0][keep_tr]
    class2idx = {k: i for i, k in enumerate(np.unique(level0))}
    assert [class2idx[c] for c in level0] == ids_tr
    assert voxel_columns(arrays["roi"], "first_columns").tolist() == list(quirk)


def _drop_key(a: dict, key: str) -> dict:
    a = dict(a)
    del a[key]
    return a


def _set(key: str, fn):
    def mutate(a: dict) -> dict:
        a = dict(a)
        a[key] = fn(np.array(a[key]))
        return a

    return mutate


def _nan(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x[3, 5] = np.nan
    return x


def _unknown_class(x: np.ndarray) -> np.ndarray:
    x = x.astype("<U32")
    x[0, 2] = "mineral"
    return x


BAD = {
    "missing roi": (lambda a: _drop_key(a, "roi"), "images", ["'roi'", "missing"]),
    "missing stimuli_test": (
        lambda a: _drop_key(a, "stimuli_test"),
        "images",
        ["'stimuli_test'", "missing"],
    ),
    "responses_test columns": (
        _set("responses_test", lambda x: x[:, :-1]),
        "images",
        ["'responses_test'", "(12, 79)", "(12, 80)"],
    ),
    "responses rows": (
        _set("responses", lambda x: x[:-1]),
        "images",
        ["'responses'", "(39, 80)", "40"],
    ),
    "stimuli_test size": (
        _set("stimuli_test", lambda x: x[:, :-2]),
        "images",
        ["'stimuli_test'", "(12, 62, 64)", "64, 64"],
    ),
    "stimuli 2-D": (_set("stimuli", lambda x: x[:, 0]), "images", ["'stimuli'", "3-D"]),
    "roi length": (_set("roi", lambda x: x[:-1]), "images", ["'roi'", "(79,)", "(80,)"]),
    "roi label": (_set("roi", lambda x: np.where(x == 3, 9, x)), "images", ["'roi'", "[9]"]),
    "NaN responses": (_set("responses", _nan), "images", ["'responses'", "NaN", "(3, 5)"]),
    "labels 3 rows": (_set("labels", lambda x: x[:3]), "labels", ["(3, 40)", "(4, 40)"]),
    "labels_val items": (
        _set("labels_val", lambda x: x[:, :-1]),
        "labels_val",
        ["(4, 11)", "(4, 12)"],
    ),
    "unknown class": (
        _set("labels_val", _unknown_class),
        "labels_val",
        ["row 0", "'mineral'", "item 2"],
    ),
}


def _write_raw(folder: Path, arrays: dict) -> None:
    """Like write_kay, but keys may be missing (np.savez of whatever is there)."""
    paths = kay_paths(folder)
    npz = {k: np.asarray(v) for k, v in arrays.items() if k not in ("labels", "labels_val")}
    np.savez(paths["images"], **npz)
    np.save(paths["labels"], np.asarray(arrays["labels"], dtype=str))
    np.save(paths["labels_val"], np.asarray(arrays["labels_val"], dtype=str))


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_raise_one_data_file_error(tmp_path, case):
    mutate, role, fragments = BAD[case]
    _write_raw(tmp_path, mutate(fixture_arrays()))
    with pytest.raises(DataFileError) as err:
        load_dir(tmp_path)
    msg = str(err.value)
    assert str(kay_paths(tmp_path)[role]) in msg
    assert "\n" not in msg
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)


def test_unreadable_and_missing_files(tmp_path):
    write_kay(tmp_path, **fixture_arrays())
    paths = kay_paths(tmp_path)
    data = paths["images"].read_bytes()
    paths["images"].write_bytes(data[: len(data) // 3])
    with pytest.raises(DataFileError, match="kay_images.npz: cannot be read"):
        load_dir(tmp_path)
    paths["labels"].unlink()
    with pytest.raises(FileNotFoundError, match=r"osf\.io/r638s"):
        load_dir(tmp_path)
    with pytest.raises(ValueError, match="voxel_filter"):
        load_dir(tmp_path, voxel_filter="all")


def test_rescale_matches_the_original_formula():
    rng = np.random.default_rng(3)
    for dtype in (np.float64, np.float32):
        stim = (rng.normal(size=(7, 20, 24)) * rng.uniform(0.1, 100, (7, 1, 1))).astype(dtype)
        got = rescale_to_uint8(stim)
        assert got.dtype == np.uint8 and got.shape == stim.shape
        np.testing.assert_array_equal(got, original_rescale(stim))
        assert (got.min(axis=(1, 2)) == 0).all()
        # the maximum gives 255, or 254 where (max - min) * 255 / (max - min) rounds below 255
        assert set(got.max(axis=(1, 2)).tolist()) <= {254, 255}
    flat = np.full((2, 5, 5), 3.5)
    flat[1, 0, 0] = 4.0
    out = rescale_to_uint8(flat)
    assert not out[0].any()  # a constant image gives zeros, not NaN garbage
    assert out[1, 0, 0] == 255 and out[1].sum() == 255


# --------------------------------------------------------------------------- simulator


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    return simulate_kay(tmp_path_factory.mktemp("kay_sim"), seed=0)


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_simulation_is_deterministic(sim, tmp_path):
    again = simulate_kay(tmp_path / "again", seed=0)
    other = simulate_kay(tmp_path / "other", seed=1)
    expected = {*FILES.values(), "planted.json", "planted_latent.npz"}
    assert set(_digests(sim.directory)) == expected
    assert _digests(again.directory) == _digests(sim.directory)
    differ = _digests(other.directory)
    assert all(differ[name] != digest for name, digest in _digests(sim.directory).items())


def test_simulation_reads_back_through_the_loader(sim):
    labels = np.load(sim.files["labels"])
    labels_val = np.load(sim.files["labels_val"])
    assert labels.shape == (4, 240) and labels_val.shape == (4, 90)
    assert labels[0].tolist() == sim.classes_train.tolist()
    assert set(DROPPED_CLASSES) <= set(labels[0]) and set(labels_val[0]) & set(DROPPED_CLASSES)
    kay = load_dir(sim.directory)
    keep = np.flatnonzero(~np.isin(sim.classes_train, DROPPED_CLASSES))
    assert kay.index_train.tolist() == keep.tolist()
    assert not set(kay.wordnet_train[:, 0]) & set(DROPPED_CLASSES)
    assert kay.wordnet_test[:, 0].tolist() == [KEPT_CLASSES[i] for i in kay.labels_test]
    assert kay.images_train.shape == (kay.n_train, 128, 128)
    # mildly unbalanced kept classes, the same shares in both splits
    for labels_ in (kay.labels_train, kay.labels_test):
        share = np.bincount(labels_, minlength=3) / labels_.size
        np.testing.assert_allclose(share, [0.40, 0.36, 0.24], atol=0.02)
    planted = json.loads(sim.files["planted"].read_text())
    assert planted["classes"]["test"] == labels_val[0].tolist()
    assert planted["parameters"]["seed"] == 0


def test_voxel_filters_differ_on_simulated_data(sim):
    corrected = load_dir(sim.directory)
    quirk = load_dir(sim.directory, voxel_filter="first_columns")
    assert (corrected.roi > 0).all() and corrected.n_voxels == 420
    assert (quirk.roi == 0).any()  # the quirk keeps some "Other" voxels ...
    assert set(corrected.voxel_index) - set(quirk.voxel_index)  # ... and misses ROI voxels
    with np.load(sim.files["images"]) as d:
        roi = d["roi"]
    assert roi[0] == 1 and quirk.voxel_index.tolist() == original_voxel_filter(roi).tolist()


def test_planted_class_structure_is_decodable_from_later_rois(sim):
    kay = load_dir(sim.directory)
    late = np.isin(kay.roi, [ROI_NAMES.index("V4"), ROI_NAMES.index("LatOcc")])
    x_tr, x_te = kay.responses_train[:, late], kay.responses_test[:, late]
    means = np.stack([x_tr[kay.labels_train == c].mean(axis=0) for c in range(3)])
    pred = np.argmin(((x_te[:, None, :] - means[None]) ** 2).sum(axis=-1), axis=1)
    accuracy = (pred == kay.labels_test).mean()
    majority = np.bincount(kay.labels_test).max() / kay.n_test
    assert accuracy > majority + 0.2, (accuracy, majority)
    # the planted embedding of the kept test items carries the same class structure
    emb = planted_embedding(sim.directory, kay.index_test)
    np.testing.assert_array_equal(emb, sim.latent_test[kay.index_test])
    assert emb.shape == (kay.n_test, 100) and emb.dtype == np.float32
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    cos = unit @ unit.T
    same = kay.labels_test[:, None] == kay.labels_test[None, :]
    off = ~np.eye(kay.n_test, dtype=bool)
    assert cos[same & off].mean() > cos[~same].mean() + 0.2


def test_early_rois_follow_image_contrast_energy(sim):
    with np.load(sim.files["images"]) as d:
        dat = dict(**d)
    early = np.isin(dat["roi"], [1, 2, 3])
    for stim, resp in (
        (dat["stimuli"], dat["responses"]),
        (dat["stimuli_test"], dat["responses_test"]),
    ):
        stim = stim.astype(np.float64)
        energy = np.sqrt(
            (np.diff(stim, axis=1) ** 2).mean(axis=(1, 2))
            + (np.diff(stim, axis=2) ** 2).mean(axis=(1, 2))
        )
        r = np.corrcoef(energy, resp[:, early].mean(axis=1))[0, 1]
        assert r > 0.6, r
    # each column z-scored over each split, as the real data
    np.testing.assert_allclose(dat["responses"].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(dat["responses_test"].std(axis=0), 1, atol=1e-4)
