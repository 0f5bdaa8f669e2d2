import json

import h5py
import numpy as np
import pytest
import scipy.io

from brainalign.data.algonauts import load_fmri_rdms
from brainalign.data.loaders import load_dataset
from brainalign.data.synthetic import generate_synthetic_study, write_mat73
from brainalign.data.synthetic_stimuli import category_counts, make_stimuli


def test_category_blocks_of_the_92_set():
    assert category_counts(92) == [
        ("human body", 12),
        ("human face", 12),
        ("animal body", 12),
        ("animal face", 12),
        ("natural object", 23),
        ("artificial object", 21),
    ]
    for n in (6, 12, 40, 118):
        counts = [c for _, c in category_counts(n)]
        assert sum(counts) == n and min(counts) >= 1
    with pytest.raises(ValueError, match="at least 6"):
        category_counts(5)


def test_stimuli_are_deterministic_and_sized():
    a, names, cats = make_stimuli(12, seed=4)
    b, _, _ = make_stimuli(12, seed=4)
    c, _, _ = make_stimuli(12, seed=5)
    assert a.shape == (12, 175, 175, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert names[0] == "image_01.jpg" and names[-1] == "image_12.jpg"
    assert len(set(cats)) == 6
    # images are not blank
    assert all(img.std() > 5 for img in a)


def test_mat73_is_stored_the_way_matlab_stores_it(tmp_path):
    rdms = np.random.default_rng(0).random((3, 5, 5))
    path = tmp_path / "target_fmri.mat"
    write_mat73(path, {"IT_RDMs": rdms})
    assert path.read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
    with h5py.File(path, "r") as f:
        assert f["IT_RDMs"].shape == (5, 5, 3)
        assert f["IT_RDMs"].attrs["MATLAB_class"] == b"double"
    with pytest.raises(NotImplementedError):
        scipy.io.loadmat(path)
    np.testing.assert_array_equal(load_fmri_rdms(path, ("IT",))["IT"], rdms)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "12_Image_Set"
    info = generate_synthetic_study(out, n_images=12, n_subjects=4, seed=3, n_voxels=40)
    return out, info


def test_generated_study_goes_through_the_algonauts_loader(study):
    out, info = study
    ds = load_dataset("synthetic", out, ("EVC", "IT"), "syn")
    assert ds.images.shape == (12, 175, 175, 3)
    assert ds.rdms["IT"].shape == (4, 12, 12) and ds.subjects == ["01", "02", "03", "04"]
    for stack in ds.rdms.values():
        assert np.allclose(stack, stack.transpose(0, 2, 1))
        assert np.all(np.diagonal(stack, axis1=1, axis2=2) == 0)
    stim = scipy.io.loadmat(out / "12images.mat")["visual_stimuli"]
    assert stim.shape == (1, 12) and stim[0, 0]["pixels"].shape == (175, 175, 3)


def test_ground_truth_is_written_next_to_the_data(study):
    out, info = study
    truth = np.load(out / "ground_truth.npz")
    assert truth["IT_true"].shape == (12, 12) and truth["EVC_true"].shape == (12, 12)
    on_disk = json.loads((out / "ground_truth.json").read_text())
    assert on_disk["planted"]["IT"].startswith("deep") or "IT" in on_disk["planted"]
    assert on_disk["n_subjects"] == 4 and on_disk["seed"] == 3


def test_generation_is_bit_identical_for_the_same_seed(tmp_path, study):
    out, _ = study
    again = tmp_path / "12_Image_Set"
    generate_synthetic_study(again, n_images=12, n_subjects=4, seed=3, n_voxels=40)
    for name in (
        "target_fmri.mat",
        "ground_truth.npz",
        "ground_truth.json",
        "12images/image_05.jpg",
    ):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
