"""Unreadable or mismatched data files name the file and what is wrong with it (issue 10).

Truncated MATLAB v5 / v7.3 files, JPEGs, NIfTI and .npy files; volumes whose grid shape,
condition count or affine differs from the first subject's; model RDMs of other conditions than
the brain RDMs. One case runs the ``prepare_dataset`` rule to check the console line and that no
output is left behind.
"""

from __future__ import annotations

import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml
from conftest import run_snakemake
from scipy.io import savemat
from test_algonauts_loader import write_image_set

from brainalign.data.algonauts import load_algonauts2019, load_image_folder, read_mat
from brainalign.data.base import DataFileError
from brainalign.data.fmaps_files import (
    load_label_image,
    load_mat_rdm,
    load_model_rdms,
    load_searchlight_rdms,
    load_volumes,
)
from brainalign.data.kriegeskorte import load_kriegeskorte_brain_rdms
from brainalign.rsa.ols import DesignBases


def _truncate(path: Path, keep: float = 0.5) -> int:
    data = path.read_bytes()
    n = int(len(data) * keep)
    path.write_bytes(data[:n])
    return len(data)


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


# --------------------------------------------------------------------------------------------
# MATLAB files, images, .npy
# --------------------------------------------------------------------------------------------
def test_truncated_v73_target_fmri_names_the_file(tmp_path):
    folder = tmp_path / "92_Image_Set"
    write_image_set(folder, np.random.default_rng(0))
    fmri = folder / "target_fmri.mat"
    full = _truncate(fmri)
    with pytest.raises(DataFileError) as err:
        load_algonauts2019(folder)
    msg = _one_line(err)
    assert msg.startswith(f"{fmri}: cannot be read as a MATLAB v7.3 (HDF5) file")
    assert f"the file is truncated ({full // 2} of {full} bytes; OSError" in msg
    assert "replace it with a complete copy" in msg


def test_v73_header_without_hdf5_data(tmp_path):
    path = tmp_path / "target_fmri.mat"
    path.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64" + b" " * 40)
    with pytest.raises(DataFileError, match="MATLAB v7.3.*no HDF5 data after the MATLAB header"):
        read_mat(path)


@pytest.mark.parametrize("content", ["truncated", "html", "empty"])
def test_broken_v5_files_name_the_file(tmp_path, content):
    path = tmp_path / "92_brainRDMs.mat"
    savemat(path, {"RDMs": np.random.default_rng(1).random((40, 40))})
    if content == "truncated":
        _truncate(path, 0.3)
    elif content == "html":
        path.write_text("<html><body>rate limit exceeded</body></html>")
    else:
        path.write_bytes(b"")
    for read in (read_mat, lambda p: load_kriegeskorte_brain_rdms(p), load_mat_rdm):
        with pytest.raises(DataFileError) as err:
            read(path)
        msg = _one_line(err)
        assert msg.startswith(f"{path}: cannot be read as a MATLAB v5 file")
        assert ("is empty (0 bytes" if content == "empty" else "truncated or corrupt") in msg


def test_truncated_jpeg_names_the_file(tmp_path):
    folder = tmp_path / "92_Image_Set"
    write_image_set(folder, np.random.default_rng(2))
    jpg = sorted((folder / "6images").iterdir())[2]
    _truncate(jpg, 0.4)
    with pytest.raises(DataFileError) as err:
        load_image_folder(folder / "6images")
    assert _one_line(err).startswith(f"{jpg}: cannot be read as a JPEG image")


def test_truncated_npy_names_the_file(tmp_path):
    path = tmp_path / "all_sub_slrdms.npy"
    np.save(path, np.zeros((2, 5, 4, 4)))
    _truncate(path, 0.6)
    with pytest.raises(DataFileError) as err:
        load_searchlight_rdms(path)
    assert _one_line(err).startswith(f"{path}: cannot be read as a NumPy .npy file")


# --------------------------------------------------------------------------------------------
# NIfTI volumes: shape, conditions, affine
# --------------------------------------------------------------------------------------------
AFF = np.diag([3.0, 3.0, 3.0, 1.0])


def _nii(path: Path, shape=(8, 8, 8, 8), aff=AFF) -> Path:
    data = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    nib.save(nib.Nifti1Image(data, aff), path)
    return path


def test_volume_affine_that_differs_is_called_affine(tmp_path):
    first = _nii(tmp_path / "sub-1.nii.gz")
    moved = AFF.copy()
    moved[:3, 3] = (-78.0, -112.0, -70.0)
    second = _nii(tmp_path / "sub-2.nii.gz", aff=moved)
    with pytest.raises(ValueError) as err:
        load_volumes([first, second])
    msg = _one_line(err)
    assert msg.startswith(f"{second}: affine (voxel-to-world)")
    assert "[3 0 0 -78; 0 3 0 -112; 0 0 3 -70]" in msg and "[3 0 0 0; 0 3 0 0; 0 0 3 0]" in msg
    assert str(first) in msg and "grid (8, 8, 8, 8) differs" not in msg


def test_volume_shape_and_conditions_that_differ(tmp_path):
    first = _nii(tmp_path / "sub-1.nii.gz")
    smaller = _nii(tmp_path / "sub-2.nii.gz", shape=(8, 8, 7, 8))
    with pytest.raises(ValueError) as err:
        load_volumes([first, smaller])
    msg = _one_line(err)
    assert msg.startswith(f"{smaller}: grid shape (8, 8, 7) differs from the first subject's")
    assert "(8, 8, 8)" in msg and "affine" not in msg
    fewer = _nii(tmp_path / "sub-3.nii.gz", shape=(8, 8, 8, 6))
    with pytest.raises(ValueError, match=r"sub-3.nii.gz: 6 conditions .*sub-1.nii.gz\) has 8$"):
        load_volumes([first, fewer])


def test_mask_and_atlas_on_another_grid(tmp_path):
    first = _nii(tmp_path / "sub-1.nii.gz")
    mask = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((8, 8, 8), np.int8), np.diag([2.0, 2.0, 2.0, 1.0])), mask)
    with pytest.raises(ValueError) as err:
        load_volumes([first], mask)
    msg = _one_line(err)
    assert msg.startswith(f"{mask}: affine (voxel-to-world) [2 0 0 0; 0 2 0 0; 0 0 2 0]")
    _, mimg = load_volumes([first])
    atlas = tmp_path / "atlas.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((8, 8, 9), np.int16), AFF), atlas)
    with pytest.raises(ValueError, match=r"atlas.nii.gz: grid shape \(8, 8, 9\) differs"):
        load_label_image(atlas, mimg, first)
    nib.save(nib.Nifti1Image(np.ones((8, 8, 8), np.int16), AFF), atlas)
    assert load_label_image(atlas, mimg, first).dtype.kind == "i"


def test_truncated_nifti_names_the_file(tmp_path):
    first = _nii(tmp_path / "sub-1.nii.gz")
    second = _nii(tmp_path / "sub-2.nii.gz")
    _truncate(second, 0.5)
    with pytest.raises(DataFileError) as err:
        load_volumes([first, second])
    assert _one_line(err).startswith(f"{second}: cannot be read as a NIfTI image")


# --------------------------------------------------------------------------------------------
# Model RDMs against the brain RDMs
# --------------------------------------------------------------------------------------------
def _models(folder: Path, sizes: dict[str, int]) -> Path:
    folder.mkdir()
    for task, n in sizes.items():
        for layer in ("block4", "encoder_output"):
            savemat(folder / f"{task}_{layer}.mat", {"rdm": np.ones((n, n)) - np.eye(n)})
    return folder


def test_model_rdm_of_other_size_names_the_file(tmp_path):
    d = _models(tmp_path / "models", {"a": 10, "b": 10})
    with pytest.raises(ValueError) as err:
        load_model_rdms(d, ["a", "b"], n_conditions=12)
    msg = _one_line(err)
    assert msg.startswith(f"{d / 'a_block4.mat'}: model RDM of 10 conditions (10 x 10)")
    assert "the brain RDMs have 12 conditions" in msg
    d = _models(tmp_path / "mixed", {"a": 10, "b": 9})
    with pytest.raises(ValueError) as err:
        load_model_rdms(d, ["a", "b"])
    msg = _one_line(err)
    assert msg.startswith(f"{d / 'b_block4.mat'}: model RDM of 9 conditions")
    assert "the first model file a_block4.mat has 10 conditions" in msg


def test_models_meeting_brain_rdms_of_other_conditions():
    """Where the models meet the brain RDMs (the searchlight statistics): sizes in conditions,
    not a matmul error."""
    from brainalign.studies.dwivedi2021.analysis import searchlight_tests

    rng = np.random.default_rng(4)
    models = {"edge2d": rng.random((45, 2)), "depth": rng.random((45, 2))}  # 10 conditions
    brain = rng.random((5, 66))  # 12 conditions
    with pytest.raises(ValueError) as err:
        searchlight_tests(brain, np.ones(5), models, n_permutations=10)
    msg = _one_line(err)
    assert "the brain RDMs have 66 entries (12 conditions)" in msg
    assert "model RDMs of 'edge2d', 'depth' have 45 (10 conditions)" in msg
    with pytest.raises(ValueError, match=r"66 entries \(12 conditions\)"):
        DesignBases(models).r2(brain)


# --------------------------------------------------------------------------------------------
# Through the rule: one console line, nothing half-written
# --------------------------------------------------------------------------------------------
def test_prepare_dataset_rule_with_truncated_target_fmri(tmp_path):
    folder = tmp_path / "data" / "92_Image_Set"
    write_image_set(folder, np.random.default_rng(5))
    fmri = folder / "target_fmri.mat"
    _truncate(fmri)
    work = tmp_path / "work"
    work.mkdir()
    cfg = {
        "truzzi2020": {
            "dataset": {"kind": "algonauts2019", "path": str(folder)},
            "conditions": ["alexnet_untrained"],
        }
    }
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    out = "results/truzzi2020/algonauts2019/dataset"
    proc = run_snakemake(work, f"{out}/dataset.json", check=False, timeout=300)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    line = next(ln for ln in text.splitlines() if ln.startswith("brainalign: rule prepare_dataset"))
    assert re.search(
        rf"DataFileError: {re.escape(str(fmri))}: cannot be read as a MATLAB v7\.3", line
    )
    assert "truncated (" in line
    left = sorted(p.name for p in (work / out).glob("*")) if (work / out).exists() else []
    assert left == [], f"half-written outputs left: {left}"
