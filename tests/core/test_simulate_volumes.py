"""The embedded default study: determinism, files, planted regions carrying their models."""

import json

import nibabel as nib
import numpy as np
import pytest

from brainalign import rsa as rg
from brainalign.data import fmaps_files as io
from brainalign.data import volumes as sv


@pytest.fixture(scope="module")
def study():
    return sv.simulate_study(sv.SimulationConfig())


def test_bit_identical_for_a_seed(study):
    again = sv.simulate_study(sv.SimulationConfig())
    for a, b in zip(study.subjects, again.subjects, strict=True):
        np.testing.assert_array_equal(a, b)
    other = sv.simulate_study(sv.SimulationConfig(seed=7))
    assert not np.array_equal(study.subjects[0], other.subjects[0])


def test_geometry_and_labels(study):
    cfg = study.config
    mask = np.asarray(study.mask_img.get_fdata()) > 0
    assert np.allclose(np.diag(study.mask_img.affine)[:3], 3.0)
    assert study.subjects[0].shape == mask.shape + (cfg.n_conditions,)
    assert len(study.subjects) == cfg.n_subjects
    # planted labels inside the mask, one label per region, at the right MNI places
    assert set(np.unique(study.planted[mask])) == {0, 1, 2, 3}
    assert not study.planted[~mask].any()
    aff = study.mask_img.affine
    for k, spec in enumerate(cfg.regions):
        ijk = np.argwhere(study.planted == k + 1)
        xyz = ijk @ aff[:3, :3].T + aff[:3, 3]
        d = np.min([np.linalg.norm(xyz - np.array(c), axis=1) for c in spec.centres_mm], axis=0)
        assert d.max() <= spec.radius_mm + 1e-6
        assert ijk.shape[0] > 500
    # the posterior restriction
    ys = np.argwhere(mask)[:, 1] * aff[1, 1] + aff[1, 3]
    assert ys.max() <= cfg.mask_y_max_mm


def test_planted_region_rdm_is_best_fit_by_its_model(study):
    """Noise-free: each region's RDM (correlation distance across its voxels) is explained best by
    the model that generated it, among all models."""
    cfg = sv.SimulationConfig(noise=0.0, n_subjects=2)
    clean = sv.simulate_study(cfg)
    mask = np.asarray(clean.mask_img.get_fdata()) > 0
    X = clean.subjects[0][mask]
    db = rg.DesignBases({m: R.T for m, R in clean.model_rdms.items()})
    names = list(clean.model_rdms)
    for k, spec in enumerate(cfg.regions):
        sel = clean.planted[mask] == k + 1
        y = rg.rdm_to_vector(1 - np.corrcoef(X[sel].T))
        r2 = db.r2(y)
        assert names[int(np.argmax(r2))] == spec.model
        assert r2.max() > 0.8


def test_write_study_layout(tmp_path):
    paths = sv.write_study(tmp_path)
    meta = json.loads((tmp_path / "study.json").read_text())
    assert meta["seed"] == 2021 and meta["n_subjects"] == 6
    for rel in meta["files"].values():
        assert (tmp_path / rel).exists()
    img = nib.load(paths["sub-01"])
    assert img.shape[3] == 40 and img.get_data_dtype() == np.float32
    tsv = (tmp_path / "planted_labels.tsv").read_text().splitlines()
    assert tsv[0].split("\t")[:4] == ["label", "region", "model", "group"]
    assert tsv[1].split("\t")[2:4] == ["edge2d", "2D"]
    X = io.load_model_rdms(tmp_path / "RDM_models", list(sv.DEFAULT_MODELS))
    assert X["edge2d"].shape == (40 * 39 // 2, 2)
    vols, mimg = io.load_volumes([paths["sub-01"], paths["sub-02"]], paths["mask"])
    assert vols[0].shape[:3] == mimg.shape


def test_bad_config():
    with pytest.raises(ValueError, match="n_subjects"):
        sv.SimulationConfig(n_subjects=1).validate()
    with pytest.raises(ValueError, match="'nope'"):
        sv.SimulationConfig(regions=(sv.RegionSpec("r", "nope", ((0.0, -90.0, 0.0),)),)).validate()
