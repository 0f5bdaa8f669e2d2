"""The algonauts2019 loader on fixtures in the real on-disk formats (data-formats.md §9.2).

Fixtures are written here, independently of the project's own writers:
* ``target_fmri.mat``: HDF5 with a 512-byte user block holding a "MATLAB 7.3 MAT-file" header;
  datasets stored (N, N, S) float64 with ``MATLAB_class = b"double"``;
* ``target_meg.mat``: v7.3 stored (N, N, 2, S), and MATLAB v5 (``savemat``) of (S, 2, N, N);
* ``<N>images.mat``: v5 struct ``visual_stimuli`` (1, N) with ``names`` and ``pixels``;
* ``<N>images/*.jpg``: zero-padded names (optionally inside one subfolder, ImageFolder-style).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image
from scipy.io import loadmat, savemat

from brainalign.data.algonauts import (
    load_algonauts2019,
    load_fmri_rdms,
    load_image_folder,
    load_meg_rdms,
    load_stimulus_mat,
    read_mat,
)
from brainalign.data.loaders import load_dataset

N, S = 6, 3


def rdm_stack(rng, n_subjects, n=N, nan_diag=False):
    out = np.empty((n_subjects, n, n))
    for s in range(n_subjects):
        d = 1.0 - np.corrcoef(rng.normal(size=(n, 4)))
        d = (d + d.T) / 2
        np.fill_diagonal(d, np.nan if nan_diag else 0.0)
        out[s] = d
    return out


def write_v73(path: Path, variables: dict[str, np.ndarray]) -> None:
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 + 512-byte header, column-major arrays."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in variables.items():
            ds = f.create_dataset(key, data=np.transpose(np.asarray(value, np.float64)))
            ds.attrs["MATLAB_class"] = np.bytes_("double")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 ."
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116) + b"\x00" * 8 + b"\x00\x02IM")


def write_image_set(
    folder: Path,
    rng,
    n=N,
    subfolder=False,
    side=20,
    fmri=True,
    jpgs=True,
    mat=True,
    mat_names=None,
    meg=None,
):
    folder.mkdir(parents=True)
    names = [f"image_{k + 1:02d}.jpg" for k in range(n)]
    images = rng.integers(0, 256, size=(n, side, side, 3), dtype=np.uint8)
    if jpgs:
        img_dir = folder / f"{n}images"
        if subfolder:
            img_dir = img_dir / "jpg_images"
        img_dir.mkdir(parents=True)
        for name, img in reversed(list(zip(names, images, strict=True))):
            Image.fromarray(img).save(img_dir / name, quality=95)
    if mat:
        stim = np.zeros((1, n), dtype=[("names", object), ("pixels", object)])
        for i in range(n):
            stim[0, i]["names"] = (mat_names or names)[i]
            stim[0, i]["pixels"] = images[i]
        savemat(folder / f"{n}images.mat", {"visual_stimuli": stim})
    truth = {"names": names, "images": images}
    if fmri:
        truth["EVC"], truth["IT"] = rdm_stack(rng, S, n), rdm_stack(rng, S, n)
        write_v73(folder / "target_fmri.mat", {"EVC_RDMs": truth["EVC"], "IT_RDMs": truth["IT"]})
    if meg is not None:
        early = np.stack([rdm_stack(rng, 2, n) for _ in range(S)])  # (S, 2, N, N)
        late = np.stack([rdm_stack(rng, 2, n, nan_diag=True) for _ in range(S)])
        truth["MEG_early"], truth["MEG_late"] = early, late
        if meg == "v73":
            write_v73(folder / "target_meg.mat", {"MEG_RDMs_early": early, "MEG_RDMs_late": late})
        else:
            savemat(folder / "target_meg.mat", {"MEG_RDMs_early": early, "MEG_RDMs_late": late})
    return truth


def test_fmri_v73_is_transposed_to_subjects_first(tmp_path):
    rng = np.random.default_rng(0)
    truth = write_image_set(tmp_path / "92_Image_Set", rng)
    path = tmp_path / "92_Image_Set" / "target_fmri.mat"
    with open(path, "rb") as fh:
        assert fh.read(19) == b"MATLAB 7.3 MAT-file"
    with h5py.File(path, "r") as f:
        assert f["IT_RDMs"].shape == (N, N, S)  # as stored
    with pytest.raises(NotImplementedError):
        loadmat(path)  # a real v7.3 file: scipy cannot read it
    rdms = load_fmri_rdms(path)
    assert rdms["IT"].shape == (S, N, N)
    np.testing.assert_array_equal(rdms["IT"], truth["IT"])
    np.testing.assert_array_equal(rdms["EVC"], truth["EVC"])
    with pytest.raises(ValueError, match="no variable 'V1_RDMs'"):
        load_fmri_rdms(path, ("V1",))


@pytest.mark.parametrize("container", ["v73", "v5"])
def test_meg_both_containers(tmp_path, container):
    rng = np.random.default_rng(1)
    truth = write_image_set(tmp_path / "set", rng, meg=container)
    path = tmp_path / "set" / "target_meg.mat"
    assert h5py.is_hdf5(path) == (container == "v73")
    meg = load_meg_rdms(path)
    assert meg["early"].shape == (S, 2, N, N)
    np.testing.assert_array_equal(meg["early"], truth["MEG_early"])
    np.testing.assert_array_equal(meg["late"], truth["MEG_late"])  # NaN diagonals kept raw
    ds = load_algonauts2019(tmp_path / "set", regions=("IT", "MEG_early", "MEG_late"))
    np.testing.assert_allclose(ds.rdms["MEG_early"], truth["MEG_early"].mean(axis=1))
    late = truth["MEG_late"].mean(axis=1)
    idx = np.arange(N)
    late[:, idx, idx] = 0.0  # undefined diagonal → 0
    np.testing.assert_allclose(ds.rdms["MEG_late"], late)
    assert ds.regions == ["IT", "MEG_early", "MEG_late"]


def test_meg_shape_is_checked(tmp_path):
    savemat(tmp_path / "target_meg.mat", {"MEG_RDMs_early": np.zeros((S, N, N))})
    with pytest.raises(ValueError, match="subjects × sessions × N × N"):
        load_meg_rdms(tmp_path / "target_meg.mat", ("early",))


def test_stimulus_mat_struct(tmp_path):
    rng = np.random.default_rng(2)
    truth = write_image_set(tmp_path / "set", rng, side=175, fmri=False, jpgs=False)
    stim = loadmat(tmp_path / "set" / f"{N}images.mat")["visual_stimuli"]
    assert stim.shape == (1, N) and stim[0, 0]["pixels"].shape == (175, 175, 3)
    names, images = load_stimulus_mat(tmp_path / "set" / f"{N}images.mat")
    assert names == truth["names"]
    np.testing.assert_array_equal(images, truth["images"])


@pytest.mark.parametrize("subfolder", [False, True])
def test_jpg_folder_sorted_order(tmp_path, subfolder):
    rng = np.random.default_rng(3)
    truth = write_image_set(tmp_path / "set", rng, subfolder=subfolder, fmri=False, mat=False)
    names, images = load_image_folder(tmp_path / "set" / f"{N}images")
    assert names == truth["names"]  # written in reverse, read back sorted
    assert images.shape == (N, 20, 20, 3) and images.dtype == np.uint8
    # JPEG is lossy: close to the source pixels, in the right order
    err = np.abs(images.astype(int) - truth["images"].astype(int)).mean(axis=(1, 2, 3))
    other = np.abs(images.astype(int) - truth["images"][::-1].astype(int)).mean(axis=(1, 2, 3))
    assert np.all(err < other)


def test_whole_image_set_and_name_check(tmp_path):
    rng = np.random.default_rng(4)
    truth = write_image_set(tmp_path / "92_Image_Set", rng)
    ds = load_dataset("algonauts2019", tmp_path / "92_Image_Set", ("EVC", "IT"), "a")
    assert ds.n_images == N and ds.subjects == ["01", "02", "03"]
    assert ds.image_names == truth["names"]
    np.testing.assert_array_equal(ds.rdms["IT"], truth["IT"])
    bad = write_image_set(tmp_path / "bad", rng, mat_names=[f"x_{k}.jpg" for k in range(N)])
    assert bad
    with pytest.raises(ValueError, match="do not match the jpg folder"):
        load_algonauts2019(tmp_path / "bad")


def test_images_from_mat_when_no_jpg_folder(tmp_path):
    rng = np.random.default_rng(5)
    truth = write_image_set(tmp_path / "set", rng, jpgs=False)
    ds = load_algonauts2019(tmp_path / "set", regions=("IT",))
    np.testing.assert_array_equal(ds.images, truth["images"])  # lossless source


def test_count_mismatch_and_bad_rdms(tmp_path):
    rng = np.random.default_rng(6)
    folder = tmp_path / "set"
    write_image_set(folder, rng, fmri=False)
    write_v73(folder / "target_fmri.mat", {"IT_RDMs": rdm_stack(rng, S, N - 1)})
    with pytest.raises(ValueError, match=f"{N} images but the IT RDMs are {N - 1}"):
        load_algonauts2019(folder, regions=("IT",))
    it = rdm_stack(rng, S)
    it[1, 0, 3] += 0.2
    write_v73(folder / "target_fmri.mat", {"IT_RDMs": it})
    with pytest.raises(ValueError, match="subject 2: not symmetric"):
        load_algonauts2019(folder, regions=("IT",))
    it = rdm_stack(rng, S)
    it[2, 1, 1] = np.nan
    write_v73(folder / "target_fmri.mat", {"IT_RDMs": it})
    with pytest.raises(ValueError, match="subject 3: contains NaN"):
        load_algonauts2019(folder, regions=("IT",))


def test_read_mat_both_containers(tmp_path):
    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    write_v73(tmp_path / "a.mat", {"A": a})
    savemat(tmp_path / "b.mat", {"A": a})
    np.testing.assert_array_equal(read_mat(tmp_path / "a.mat")["A"], a)
    np.testing.assert_array_equal(read_mat(tmp_path / "b.mat")["A"], a)
    with pytest.raises(FileNotFoundError, match="c.mat"):
        read_mat(tmp_path / "c.mat")
