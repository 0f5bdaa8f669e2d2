"""NSD readers, the simulated NSD subset and the ncsnr noise ceiling (brainalign.data.nsd*).

Fixtures are written here in the real formats (MATLAB v5 design, int16 NIfTI betas, HDF5
stimuli); index maths is checked against hand computations with the 1-based file values.
"""

from __future__ import annotations

import hashlib
import itertools
import json

import h5py
import nibabel as nib
import numpy as np
import pytest
from scipy.io import savemat

from brainalign.data import DataFileError
from brainalign.data.nsd import (
    FILES,
    nsd_paths,
    read_betas,
    read_betas_session,
    read_expdesign,
    read_ncsnr,
    read_roi_labels,
    read_stimuli,
    split_trials,
    trial_images,
)
from brainalign.data.nsd_simulate import simulate_nsd
from brainalign.io.files import read_npz
from brainalign.rsa import ncsnr_noise_ceiling

# 1-based file values: 3 subjects, lists of 4 images from a pool of 10, 2 shared (ids 3, 7).
MASTER = np.array([[1, 3, 2, 4, 4, 1, 2, 3]])
SUBJECTIM = np.array([[3, 7, 1, 9], [3, 7, 10, 2], [3, 7, 5, 6]])
SHAREDIX = np.array([[3, 7]])


def _design(path, **over):
    arrays = {"masterordering": MASTER, "subjectim": SUBJECTIM, "sharedix": SHAREDIX, **over}
    savemat(path, {k: v for k, v in arrays.items() if v is not None}, format="5")
    return path


def _nifti(path, data):
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    return path


def test_trial_images_match_hand_computation(tmp_path):
    design = read_expdesign(_design(tmp_path / "d.mat"), n_images=10)
    assert design.masterordering.tolist() == [0, 2, 1, 3, 3, 0, 1, 2]
    assert design.sharedix.tolist() == [2, 6]
    for s in (1, 2, 3):
        ids, shared = trial_images(design, s, 6)
        hand = [SUBJECTIM[s - 1, m - 1] - 1 for m in MASTER[0, :6]]
        assert ids.tolist() == hand
        assert shared.tolist() == [m <= 2 for m in MASTER[0, :6]]
        assert set(ids[shared].tolist()) <= {2, 6}
    assert trial_images(design, 2)[0].tolist() == [2, 9, 6, 1, 1, 2, 6, 9]
    with pytest.raises(ValueError, match="subject"):
        trial_images(design, 4)
    with pytest.raises(ValueError, match="n_trials"):
        trial_images(design, 1, 9)


def test_split_trials():
    shared = np.array([True, False, False, True, False, False, False])
    split = split_trials(shared)
    assert split["validation"].tolist() == [0, 3]
    assert split["train"].tolist() == [1, 2, 4, 5, 6] and split["holdout"].size == 0
    split = split_trials(shared, holdout_fraction=0.4)
    assert split["train"].tolist() == [1, 2, 4] and split["holdout"].tolist() == [5, 6]


@pytest.mark.parametrize(
    ("over", "key"),
    [
        ({"sharedix": None}, "sharedix"),
        ({"masterordering": np.array([[0, 1, 2]])}, "masterordering"),
        ({"masterordering": np.array([[1, 5]])}, "masterordering"),
        ({"masterordering": np.ones((2, 3))}, "masterordering"),
        ({"subjectim": SUBJECTIM + 1}, "subjectim"),
        ({"subjectim": SUBJECTIM + 0.5}, "subjectim"),
        ({"sharedix": np.array([[0, 3]])}, "sharedix"),
    ],
)
def test_bad_design(tmp_path, over, key):
    path = _design(tmp_path / "d.mat", **over)
    with pytest.raises(DataFileError) as err:
        read_expdesign(path, n_images=10)
    assert str(path) in str(err.value) and f"'{key}'" in str(err.value)


def test_unreadable_files(tmp_path):
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"not a file of any kind" * 10)
    for reader in (read_expdesign, lambda p: read_stimuli(p, [0]), read_ncsnr):
        with pytest.raises(DataFileError, match=str(bad)):
            reader(bad)
    with pytest.raises(FileNotFoundError, match="agreement"):
        read_ncsnr(tmp_path / "missing.nii.gz")


def test_read_stimuli_order_and_errors(tmp_path):
    path = tmp_path / "s.hdf5"
    brick = np.arange(6 * 4 * 5 * 3, dtype=np.uint8).reshape(6, 4, 5, 3)
    with h5py.File(path, "w") as fh:
        fh["imgBrick"] = brick
        fh["floats"] = brick.astype(np.float32)
    ids = np.array([4, 1, 4, 0])
    np.testing.assert_array_equal(read_stimuli(path, ids), brick[ids])
    for key, ids, word in (("imgBrick", [6], "out of range"), ("other", [0], "missing")):
        with pytest.raises(DataFileError, match=word) as err:
            read_stimuli(path, ids, key=key)
        assert str(path) in str(err.value) and f"'{key}'" in str(err.value)
    with pytest.raises(DataFileError, match="'floats'"):
        read_stimuli(path, [0], key="floats")


def test_betas_scaled_and_zscored_per_session(tmp_path):
    rng = np.random.default_rng(1)
    raw = rng.integers(-900, 900, (3, 2, 2, 7)).astype(np.int16)
    raw[0, 0, 0] = 0  # constant voxel: SD 0 -> NaN -> 0
    raw[2, 1, 1] = 450
    path = _nifti(tmp_path / "betas_session01.nii.gz", raw)
    mask = np.ones((3, 2, 2), bool)
    mask[1, 1, 0] = False
    z = read_betas_session(path, mask)
    assert z.shape == (7, 11) and z.dtype == np.float32
    pct = raw[mask].T / 300.0
    with np.errstate(invalid="ignore"):
        hand = np.nan_to_num((pct - pct.mean(0)) / pct.std(0))
    np.testing.assert_allclose(z, hand, atol=1e-5)
    varying = pct.std(0) > 0
    np.testing.assert_allclose(z[:, varying].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z[:, varying].std(0), 1, atol=1e-5)
    assert (z[:, ~varying] == 0).all() and (~varying).sum() == 2
    bad = _nifti(tmp_path / "f.nii.gz", raw.astype(np.float32))
    for p, m in ((bad, mask), (path, mask[:2])):
        with pytest.raises(DataFileError, match="'data'") as err:
            read_betas_session(p, m)
        assert str(p) in str(err.value)


def test_roi_labels_prf_overrides_kastner(tmp_path):
    prf = np.array([[[1, 2, 0, 7]], [[0, 4, 5, -1]]], dtype=np.int16)  # (2, 1, 4)
    kastner = np.array([[[3, 3, 6, 8]], [[2, 3, 3, -1]]], dtype=np.int16)
    rois = read_roi_labels(
        _nifti(tmp_path / "p.nii.gz", prf), _nifti(tmp_path / "k.nii.gz", kastner)
    )
    assert rois.labels.ravel().tolist() == [1, 2, 6, 7, 2, 4, 5, 0]
    assert rois.group.ravel().tolist() == [1, 1, 3, 4, 1, 2, 3, 0]
    assert rois.voxel_groups().tolist() == [1, 1, 3, 4, 1, 2, 3]
    alone = read_roi_labels(tmp_path / "p.nii.gz")
    assert alone.group.ravel().tolist() == [1, 1, 0, 4, 0, 2, 3, 0]
    brain = _nifti(tmp_path / "b.nii.gz", np.array([[[1, 1, 1, 0]], [[1, 0, 1, 1]]], np.uint8))
    masked = read_roi_labels(tmp_path / "p.nii.gz", tmp_path / "k.nii.gz", brainmask_path=brain)
    assert masked.mask.ravel().tolist() == [True, True, True, False, True, False, True, False]
    _nifti(tmp_path / "k2.nii.gz", kastner[:, :, :3])
    _nifti(tmp_path / "p2.nii.gz", prf.astype(np.float32) + 0.5)
    for args, key in (
        (("p.nii.gz", "k2.nii.gz"), "Kastner2015"),
        (("p2.nii.gz", None), "prf-visualrois"),
    ):
        paths = [tmp_path / a if a else None for a in args]
        with pytest.raises(DataFileError, match=f"'{key}'"):
            read_roi_labels(*paths)


def test_ncsnr_reader_and_noise_ceiling(tmp_path):
    vol = np.array([[[0.5, np.nan], [1.0, 2.0]]], dtype=np.float32)
    path = _nifti(tmp_path / "ncsnr.nii.gz", vol)
    assert read_ncsnr(path).ravel().tolist() == [0.5, 0.0, 1.0, 2.0]
    assert read_ncsnr(path, vol > 0.7).tolist() == [1.0, 2.0]
    neg = _nifti(tmp_path / "neg.nii.gz", -vol)
    with pytest.raises(DataFileError, match="'ncsnr'"):
        read_ncsnr(neg)
    snr = np.array([0.0, 0.5, 1.0, 2.0])
    for n in (1, 3):
        expect = [100 * s**2 / (s**2 + 1 / n) for s in snr]
        np.testing.assert_allclose(ncsnr_noise_ceiling(snr, n), expect)
    np.testing.assert_allclose(ncsnr_noise_ceiling(1.0), 50.0)
    np.testing.assert_allclose(ncsnr_noise_ceiling(1.0, 3), 75.0)
    with pytest.raises(ValueError):
        ncsnr_noise_ceiling(snr, 0)
    with pytest.raises(ValueError):
        ncsnr_noise_ceiling(-snr)


# --------------------------------------------------------------------------- simulator


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    root = tmp_path_factory.mktemp("nsd")
    return simulate_nsd(root / "a", seed=3), simulate_nsd(root / "b", seed=3)


def _digests(root):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_simulation_byte_identical(sim):
    a, b = sim
    assert _digests(a["root"]) == _digests(b["root"])
    assert (a["root"] / FILES["expdesign"]).is_file()
    assert json.loads(a["files"]["planted"].read_text()) == a["planted"]


def test_simulation_reads_back_with_planted_truth(sim):
    out, _ = sim
    root, planted = out["root"], out["planted"]
    truth = read_npz(out["files"]["planted_arrays"])
    design = read_expdesign(root / FILES["expdesign"], n_images=planted["n_images"])
    per = planted["trials_per_session"]
    n_trials = planted["n_sessions"] * per
    ids, shared = trial_images(design, 1, n_trials)
    assert set(ids[shared].tolist()) <= set(design.sharedix.tolist())
    assert not set(ids[~shared].tolist()) & set(design.sharedix.tolist())
    images = read_stimuli(root / FILES["stimuli"], ids[:5])
    assert images.shape == (5, 64, 64, 3) and images.dtype == np.uint8
    paths = nsd_paths(root, 1)
    rois = read_roi_labels(paths["prf_visualrois"], paths["kastner"])
    brain = np.zeros(rois.mask.shape, bool)
    brain.flat[truth["subj01_voxel_index"]] = True
    np.testing.assert_array_equal(rois.group[brain], truth["subj01_group"])
    betas = read_betas(root, 1, range(1, planted["n_sessions"] + 1), rois.mask)
    assert betas.shape == (n_trials, rois.mask.sum())
    np.testing.assert_allclose(betas[:per].mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(read_ncsnr(paths["ncsnr"])[brain], truth["subj01_ncsnr"], rtol=1e-6)

    in_roi = truth["subj01_group"] > 0
    groups = truth["subj01_group"][in_roi]
    signal = truth["subj01_signal"][:, in_roi][ids]
    r_sig = _colcorr(betas, signal)
    snr = truth["subj01_ncsnr"][in_roi]
    np.testing.assert_allclose(r_sig.mean(), np.mean(snr / np.sqrt(1 + snr**2)), atol=0.05)
    fit = _early_fit(
        truth["features_early"][ids],
        truth["subj01_center"][in_roi],
        truth["subj01_sigma"][in_roi],
        betas,
    )
    means = [fit[groups == g].mean() for g in (1, 2, 3, 4)]  # seed 3: .57 .54 .52 .47
    # the hierarchy is cumulative: the early level's share of the drive falls from V1 to hV4
    assert all(a > b + 0.01 for a, b in itertools.pairwise(means)), means
    assert means[0] > means[3] + 0.05, means


def _early_fit(feats, centers, sigmas, betas):
    """Per voxel: r of the least-squares fit of its betas on the 4 early channels pooled
    through its planted field."""
    grid = (np.arange(feats.shape[2]) + 0.5) / feats.shape[2]
    out = np.empty(betas.shape[1])
    for v, ((cx, cy), sd) in enumerate(zip(centers, sigmas, strict=True)):
        field = np.exp(-((grid[:, None] - cy) ** 2 + (grid[None, :] - cx) ** 2) / (2 * sd**2))
        x = np.c_[np.einsum("nchw,hw->nc", feats, field / field.sum()), np.ones(len(feats))]
        pred = x @ np.linalg.lstsq(x, betas[:, v], rcond=None)[0]
        out[v] = np.corrcoef(pred, betas[:, v])[0, 1]
    return out


def _colcorr(a, b):
    a = (a - a.mean(0)) / a.std(0)
    b = (b - b.mean(0)) / b.std(0)
    return (a * b).mean(0)
