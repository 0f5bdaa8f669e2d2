"""Fixtures in the original data.zip layout, built here, read by brainalign.data.fmaps_files."""

import nibabel as nib
import numpy as np
import pytest
from scipy.io import savemat
from scipy.spatial.distance import pdist, squareform

from brainalign import searchlight as sl
from brainalign.data import fmaps_files as io
from brainalign.studies.dwivedi2021 import design

N = 8  # conditions (the real data have 50)
TASKS = ["edge2d", "edge3d", "class_1000", "segment2d", "segment25d"]
LAYERS = ["block4", "encoder_output"]


def _rdm(rng):
    return squareform(pdist(rng.standard_normal((N, 5)), "correlation"))


@pytest.fixture
def data_dir(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "data"
    (d / "RDM_taskonomy_bonner50").mkdir(parents=True)
    truth = {}
    for t in TASKS:
        for layer in LAYERS:
            R = _rdm(rng)
            truth[(t, layer)] = R
            savemat(d / "RDM_taskonomy_bonner50" / f"{t}_{layer}.mat", {"rdm": R})
    (d / "kastner_ROIs_RDMs_pearson").mkdir()
    S = 3
    for roi in ("V1v", "hV4"):
        sub = np.stack([_rdm(rng) for _ in range(S)])
        truth[roi] = sub
        savemat(d / "kastner_ROIs_RDMs_pearson" / f"{roi}.mat", {"subject_rdm": sub})
    (d / "ROIfiles_Labeling.txt").write_text("roi,id\nV1v,1\nhV4,7\n")
    mask = np.zeros((6, 7, 6), bool)
    mask[1:5, 1:6, 1:5] = True
    nib.save(nib.Nifti1Image(mask.astype(np.uint8), np.eye(4)), d / "mask.nii")
    nbh = sl.block_neighbourhoods(mask, 1, 2)
    sld = io.searchlight_dir(d, 1, 2)
    sld.mkdir()
    A = np.stack([np.stack([_rdm(rng) for _ in range(nbh.n_centres)]) for _ in range(S)])
    np.save(sld / "all_sub_slrdms.npy", A.astype(np.float32))
    truth["sl"] = A
    truth["n_blocks"] = nbh.n_centres
    return d, truth


def test_model_rdms(data_dir):
    d, truth = data_dir
    X = io.load_model_rdms(d / "RDM_taskonomy_bonner50", TASKS, LAYERS)
    assert list(X) == TASKS
    for t in TASKS:
        assert X[t].shape == (N * (N - 1) // 2, 2)
        for k, layer in enumerate(LAYERS):
            np.testing.assert_array_equal(X[t][:, k], squareform(truth[(t, layer)]))
    with pytest.raises(ValueError, match="'rgb2depth'"):
        io.load_model_rdms(d / "RDM_taskonomy_bonner50", ["rgb2depth"], LAYERS)
    with pytest.raises(ValueError, match="'subject_rdm'"):
        io.load_mat_rdm(d / "RDM_taskonomy_bonner50" / "edge2d_block4.mat", "subject_rdm")


def test_substring_match_is_original_and_ambiguity_raises(data_dir):
    d, _ = data_dir
    # original naming: any prefix, task found by substring
    src = d / "RDM_taskonomy_bonner50" / "edge2d_block4.mat"
    (d / "RDM_taskonomy_bonner50" / "rdm_edge2d_block4.mat").write_bytes(src.read_bytes())
    src.unlink()
    files = io.find_model_rdm_files(d / "RDM_taskonomy_bonner50", ["edge2d"], ["block4"])
    assert files["edge2d"]["block4"].name == "rdm_edge2d_block4.mat"
    (d / "RDM_taskonomy_bonner50" / "x_edge2d_block4.mat").write_bytes(b"")
    with pytest.raises(ValueError, match="2 matching"):
        io.find_model_rdm_files(d / "RDM_taskonomy_bonner50", ["edge2d"], ["block4"])


def test_roi_rdms_and_labels(data_dir):
    d, truth = data_dir
    R = io.load_roi_rdms(d / "kastner_ROIs_RDMs_pearson", ["V1v", "hV4"])
    for roi in ("V1v", "hV4"):
        assert R[roi].shape == (3, N * (N - 1) // 2)
        for s in range(3):
            np.testing.assert_array_equal(R[roi][s], squareform(truth[roi][s]))
    lab = io.load_roi_labels(d / "ROIfiles_Labeling.txt")
    assert list(lab["roi"]) == ["V1v", "hV4"] and list(lab["id"]) == [1, 7]
    with pytest.raises(ValueError, match="'LO1'"):
        io.load_roi_rdms(d / "kastner_ROIs_RDMs_pearson", ["LO1"])


def test_searchlight_rdms(data_dir):
    d, truth = data_dir
    path = io.searchlight_dir(d, 1, 2) / "all_sub_slrdms.npy"
    full = io.load_searchlight_rdms(path)
    A = truth["sl"]
    assert full.shape == (3, truth["n_blocks"], N * (N - 1) // 2)
    iu = np.triu_indices(N, 1)
    np.testing.assert_allclose(full, A[:, :, iu[0], iu[1]], rtol=1e-6)
    parts = list(io.iter_searchlight_rdms(path, chunk_size=3))
    np.testing.assert_array_equal(np.concatenate([p for _, p in parts], axis=1), full)
    # block order matches the original get_blocks on the mask
    mask = np.asarray(nib.load(d / "mask.nii").dataobj) > 0
    assert sl.block_neighbourhoods(mask, 1, 2).n_centres == full.shape[1]
    np.save(d / "bad.npy", np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="n_blocks"):
        io.load_searchlight_rdms(d / "bad.npy")


def test_volumes_and_tables(tmp_path):
    rng = np.random.default_rng(1)
    aff = np.diag([3.0, 3.0, 3.0, 1.0])
    paths = []
    for s in range(2):
        p = tmp_path / f"sub-{s}.nii.gz"
        nib.save(nib.Nifti1Image(rng.standard_normal((4, 4, 4, 5)).astype(np.float32), aff), p)
        paths.append(p)
    vols, mimg = io.load_volumes(paths)
    assert len(vols) == 2 and vols[0].shape == (4, 4, 4, 5) and mimg.get_fdata().all()
    p3 = tmp_path / "sub-x.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 3, 5), np.float32), aff), p3)
    with pytest.raises(ValueError, match="differs"):
        io.load_volumes([paths[0], p3])


SCHEMA = __import__("pathlib").Path(__file__).resolve().parents[3] / (
    "workflow/schemas/dwivedi2021.schema.yaml"
)


def fmaps_block(block):
    """The dwivedi2021 block as the workflow sees it: validated, defaults filled, checked."""
    from brainalign.pipeline.config import validate_config

    cfg = validate_config({"dwivedi2021": block})
    design.complete_config(cfg)
    return cfg["dwivedi2021"]


def test_fmaps_config_defaults_and_errors():
    import yaml

    schema = yaml.safe_load(SCHEMA.read_text())
    assert schema["$schema"].endswith("2020-12/schema")

    def described(node, path="dwivedi2021"):
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                assert "description" in sub, f"{path}.{key} has no description"
                described(sub, f"{path}.{key}")
            if isinstance(node.get("additionalProperties"), dict):
                described(node["additionalProperties"], f"{path}.*")

    described(schema)
    fm = fmaps_block({})
    assert list(fm["studies"]) == ["simulated"]
    st = fm["studies"]["simulated"]
    assert st["simulation"]["n_subjects"] == 6 and st["models"]["layers"] == LAYERS
    assert fm["statistics"]["scheme"] == "labels" and fm["statistics"]["nc_threshold"] == 0.033
    assert design.studies_of(fm, ("simulated",)) == "simulated"
    assert design.studies_of(fm, ("precomputed",)) == design.NEVER_MATCH
    assert design.study_model_names(fm, "simulated")[0] == "edge2d"
    assert design.study_groups(fm, "simulated")["class_1000"] == "semantic"
    t = design.study_targets(fm, "simulated", "results/dwivedi2021")
    assert "results/dwivedi2021/simulated/figures/grouped_map.html" in t
    with pytest.raises(ValueError, match="n_permutations"):
        fmaps_block({"statistics": {"n_permutations": 0}})
    with pytest.raises(ValueError, match="data_dir"):
        fmaps_block({"studies": {"x": {"source": "precomputed"}}})
    with pytest.raises(ValueError, match="'rows'"):
        fmaps_block({"statistics": {"scheme": "rows"}})
    pre = fmaps_block({"studies": {"p": {"source": "precomputed", "data_dir": "/d"}}})
    assert design.study_searchlight(pre, "p")["kind"] == "blocks"
    assert design.study_model_dir(pre, "p", "r").endswith("RDM_taskonomy_bonner50")
    assert len(design.study_model_names(pre, "p")) == 19
