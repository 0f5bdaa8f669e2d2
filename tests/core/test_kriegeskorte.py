"""The kriegeskorte2008 loader: real files (if present) and fixtures in the same MATLAB format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import loadmat, savemat

from brainalign.data.base import categories_92
from brainalign.data.kriegeskorte import (
    BRAIN_RDMS_FILE,
    MODEL_RDMS_FILE,
    STIMULI_FILE,
    load_kriegeskorte2008,
)
from brainalign.data.loaders import LOADERS, load_dataset, source_files

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "kriegeskorte2008"
needs_real = pytest.mark.skipif(
    not (SHARED / BRAIN_RDMS_FILE).is_file(), reason=f"real data not present at {SHARED}"
)
RAW_BLOCKS = [
    ("human bodypart", 12),
    ("human face", 12),
    ("nonhuman bodypart", 12),
    ("nonhuman face", 12),
    ("natural inanimate", 23),
    ("artificial inanimate", 21),
]
SUBJECTS = ["BE", "KO", "SN", "TI"]


def _rdm(rng, n):
    x = rng.normal(size=(n, 5))
    d = 1.0 - np.corrcoef(x)
    np.fill_diagonal(d, 0.0)
    return ((d + d.T) / 2).astype(np.float32)


def write_fixture(
    folder: Path,
    n: int = 92,
    n_rdm: int | None = None,
    side: int = 8,
    seed: int = 0,
    raw_categories: list[str] | None = None,
    names: list[str] | None = None,
    models: bool = True,
) -> dict:
    """Write the three rsatoolbox files (MATLAB v5 structs, as the real ones) into ``folder``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    if raw_categories is None:
        raw_categories = [c for c, k in RAW_BLOCKS for _ in range(k)][:n]
        raw_categories += ["artificial inanimate"] * (n - len(raw_categories))
    fields = [
        ("category", object),
        ("human", object),
        ("face", object),
        ("animal", object),
        ("natural", object),
        ("image", object),
    ]
    stim = np.zeros((1, n), dtype=fields)
    images = rng.integers(0, 256, size=(n, side, side, 3), dtype=np.uint8)
    for i in range(n):
        stim[0, i]["category"] = raw_categories[i]
        for flag in ("human", "face", "animal", "natural"):
            stim[0, i][flag] = np.array([[1]], dtype=np.uint8)
        stim[0, i]["image"] = images[i]
    savemat(
        folder / STIMULI_FILE,
        {"stimuli_92objs": stim, "categoryVectors": np.zeros((n, 12), np.uint8)},
    )
    m = n if n_rdm is None else n_rdm
    rdms = np.zeros((1, 4, 2), dtype=[("RDM", object), ("name", object), ("color", object)])
    raw = np.zeros((4, 2, m, m), np.float32)
    for s in range(4):
        for j in range(2):
            raw[s, j] = _rdm(rng, m)
            rdms[0, s, j]["RDM"] = raw[s, j]
            label = names[2 * s + j] if names else f"hIT | {SUBJECTS[s]} | Session: {j + 1}"
            rdms[0, s, j]["name"] = label
            rdms[0, s, j]["color"] = np.zeros((1, 3))
    savemat(folder / BRAIN_RDMS_FILE, {"RDMs": rdms})
    if models:
        mod = np.zeros((1, 2), dtype=[("RDM", object), ("color", object), ("name", object)])
        for k, name in enumerate(["animacy", "V1"]):
            mod[0, k]["RDM"] = _rdm(rng, m).astype(np.float64)
            mod[0, k]["name"] = name
            mod[0, k]["color"] = np.zeros((1, 3))
        savemat(folder / MODEL_RDMS_FILE, {"Models": mod})
    return {"images": images, "rdms": raw}


def test_registered_kind():
    assert LOADERS["kriegeskorte2008"] is load_kriegeskorte2008


def test_fixture_loads_averaged_and_per_session(tmp_path):
    truth = write_fixture(tmp_path)
    ds = load_dataset("kriegeskorte2008", tmp_path, ("IT",), "k")
    assert ds.images.shape == (92, 8, 8, 3) and ds.images.dtype == np.uint8
    np.testing.assert_array_equal(ds.images, truth["images"])
    assert ds.subjects == SUBJECTS
    assert ds.categories == categories_92()
    assert ds.image_names[0] == "image_01" and ds.image_names[-1] == "image_92"
    expected = truth["rdms"].astype(np.float64).mean(axis=1)
    np.testing.assert_allclose(ds.rdms["IT"], expected, rtol=0, atol=1e-12)
    ds8 = load_dataset("kriegeskorte2008", tmp_path, ("IT",), "k", average_sessions=False)
    assert ds8.subjects == [f"{s}-s{j}" for s in SUBJECTS for j in (1, 2)]
    np.testing.assert_array_equal(ds8.rdms["IT"], truth["rdms"].reshape(8, 92, 92))
    assert ds8.metadata["average_sessions"] is False
    assert "model_rdms" not in ds8.metadata
    dsm = load_dataset("kriegeskorte2008", tmp_path, ("IT",), "k", include_model_rdms=True)
    assert list(dsm.metadata["model_rdms"]) == ["animacy", "V1"]
    assert set(dsm.metadata["files"]) == {STIMULI_FILE, BRAIN_RDMS_FILE, MODEL_RDMS_FILE}
    assert source_files("kriegeskorte2008", tmp_path) == [
        str(tmp_path / STIMULI_FILE),
        str(tmp_path / BRAIN_RDMS_FILE),
        str(tmp_path / MODEL_RDMS_FILE),
    ]


def test_missing_file_names_url_and_path(tmp_path):
    write_fixture(tmp_path)
    (tmp_path / BRAIN_RDMS_FILE).unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_kriegeskorte2008(tmp_path)
    msg = str(err.value)
    assert "rsatoolbox/raw/main/demos/92imageData/92_brainRDMs.mat" in msg
    assert str((tmp_path / BRAIN_RDMS_FILE).resolve()) in msg
    with pytest.raises(FileNotFoundError, match="not found"):
        load_kriegeskorte2008(tmp_path / "nowhere")


def test_only_it_region(tmp_path):
    write_fixture(tmp_path, models=False)
    with pytest.raises(ValueError, match="region 'IT'"):
        load_kriegeskorte2008(tmp_path, regions=("EVC", "IT"))


def test_count_mismatch_is_reported(tmp_path):
    write_fixture(tmp_path, n=12, n_rdm=11, models=False)
    with pytest.raises(ValueError, match="12 images but the IT RDMs are 11"):
        load_kriegeskorte2008(tmp_path)


def test_nan_and_asymmetry_are_reported(tmp_path):
    write_fixture(tmp_path, n=12, models=False)
    data = loadmat(tmp_path / BRAIN_RDMS_FILE)
    bad = data["RDMs"]
    r = np.array(bad[0, 1, 0]["RDM"], dtype=np.float32)
    r[2, 5] = np.nan
    bad[0, 1, 0]["RDM"] = r
    savemat(tmp_path / BRAIN_RDMS_FILE, {"RDMs": bad})
    with pytest.raises(ValueError, match=r"region IT subject 2.*NaN"):
        load_kriegeskorte2008(tmp_path)
    r[2, 5] = r[5, 2] + 0.5
    bad[0, 1, 0]["RDM"] = r
    savemat(tmp_path / BRAIN_RDMS_FILE, {"RDMs": bad})
    with pytest.raises(ValueError, match="not symmetric"):
        load_kriegeskorte2008(tmp_path)


def test_session_labels_are_checked(tmp_path):
    names = [f"hIT | {s} | Session: {j}" for s in SUBJECTS for j in (2, 1)]
    write_fixture(tmp_path, n=12, names=names, models=False)
    with pytest.raises(ValueError, match="expected session 1"):
        load_kriegeskorte2008(tmp_path)


def test_category_order_is_checked(tmp_path):
    raw = [c for c, k in reversed(RAW_BLOCKS) for _ in range(k)]
    write_fixture(tmp_path, raw_categories=raw, models=False)
    with pytest.raises(ValueError, match="category-block order"):
        load_kriegeskorte2008(tmp_path)


@needs_real
def test_real_data():
    ds = load_dataset("kriegeskorte2008", SHARED, ("IT",), "kriegeskorte92")
    assert ds.images.shape == (92, 175, 175, 3)
    assert ds.subjects == SUBJECTS
    assert ds.categories == categories_92()
    raw = loadmat(SHARED / BRAIN_RDMS_FILE)["RDMs"]
    for s in range(4):
        sessions = [np.asarray(raw[0, s, j]["RDM"], np.float64) for j in range(2)]
        np.testing.assert_allclose(ds.rdms["IT"][s], (sessions[0] + sessions[1]) / 2, atol=0)
    ds8 = load_kriegeskorte2008(SHARED, average_sessions=False, include_model_rdms=True)
    assert ds8.rdms["IT"].shape == (8, 92, 92)
    assert ds8.subjects[:2] == ["BE-s1", "BE-s2"]
    assert len(ds8.metadata["model_rdms"]) == 8
    assert ds8.metadata["files"][BRAIN_RDMS_FILE]["sha256"].startswith("1743f90a")
