"""Functional maps with the main study's network layers as models (models.source 'networks').

The brain side is a tiny volume study on the small study's 12 images: in one ROI the voxel
patterns are a random projection of one network's fc6 activations, in the other of another
network's; the rest is noise. The regression must find each planted network in its ROI, and the
model RDM files must be exactly the main study's layer RDMs.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import run_snakemake, small_config, write_config
from scipy.io import loadmat

from brainalign.io.files import read_npz
from brainalign.pipeline.config import validate_config
from brainalign.studies.dwivedi2021.design import complete_config

PLANTED = {1: "alexnet_untrained", 2: "deepcluster_untrained"}


def _volumes(work, rng):
    import nibabel as nib

    acts = {
        c: read_npz(work / "results" / "truzzi2020" / "small" / "activations" / f"{c}.npz")["fc6"]
        for c in PLANTED.values()
    }
    n = next(iter(acts.values())).shape[0]
    shape = (10, 10, 10)
    mask = np.zeros(shape, bool)
    mask[2:8, 2:8, 2:8] = True
    atlas = np.zeros(shape, np.int16)
    atlas[2:5, 2:8, 2:8] = 1
    atlas[5:8, 2:8, 2:8] = 2
    aff = np.diag([3.0, 3.0, 3.0, 1.0])
    aff[:3, 3] = (-15.0, -90.0, -10.0)
    v = work / "volumes"
    v.mkdir()
    subjects = {}
    for s in (1, 2, 3):
        data = rng.standard_normal((*shape, n)).astype(np.float32)
        for roi, cond in PLANTED.items():
            # z-scored over features, so that correlations over voxels of the projected patterns
            # approximate the Pearson correlations the network RDM is made of
            a = acts[cond] - acts[cond].mean(axis=1, keepdims=True)
            a /= a.std(axis=1, keepdims=True)
            proj = a @ rng.standard_normal((a.shape[1], int((atlas == roi).sum())))
            proj /= proj.std()
            data[atlas == roi] = (proj + 0.2 * rng.standard_normal(proj.shape)).T
        path = v / f"sub-{s}.nii.gz"
        nib.save(nib.Nifti1Image(data, aff), path)
        subjects[f"sub-{s}"] = str(path)
    nib.save(nib.Nifti1Image(mask.astype(np.uint8), aff), v / "mask.nii.gz")
    nib.save(nib.Nifti1Image(atlas, aff), v / "atlas.nii.gz")
    (v / "atlas.tsv").write_text("id\troi\n1\tplanted_alexnet\n2\tplanted_deepcluster\n")
    return {
        "subjects": subjects,
        "mask": str(v / "mask.nii.gz"),
        "rois": str(v / "atlas.nii.gz"),
        "roi_table": str(v / "atlas.tsv"),
    }


def _fmaps(volumes, names, layers=("conv1", "fc6")):
    return {
        "enabled": True,
        "studies": {
            "nets": {
                "source": "volumes",
                "volumes": volumes,
                "models": {"source": "networks", "names": list(names), "layers": list(layers)},
            }
        },
        "searchlight": {"radius": 1.5},
        "statistics": {"n_permutations": 50, "n_bootstrap": 10, "scheme": "labels"},
    }


@pytest.mark.slow
def test_network_layers_as_functional_map_models(small_run, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(small_run, work, symlinks=True)
    cfg = small_config()
    names = cfg["truzzi2020"]["conditions"]
    assert names == list(PLANTED.values())
    cfg["dwivedi2021"] = _fmaps(_volumes(work, np.random.default_rng(5)), names)
    write_config(work, cfg)
    run_snakemake(work)

    res = work / "results" / "dwivedi2021" / "nets"
    for cond in names:  # the model files are the main study's layer RDMs
        rdms = read_npz(work / "results" / "truzzi2020" / "small" / "rdms" / f"{cond}.npz")
        layer_names = [str(x) for x in rdms["layer_names"]]
        for layer in ("conv1", "fc6"):
            got = loadmat(res / "models" / "networks" / f"{cond}_{layer}.mat")["rdm"]
            np.testing.assert_array_equal(got, rdms["rdms"][layer_names.index(layer)])

    roi = pd.read_csv(res / "tables" / "roi_statistics.csv")
    ind = roi[(roi["analysis"] == "individual") & (roi["statistic"] == "r2adj")]  # unclipped
    assert set(ind["model"]) == set(names)
    for roi_name, planted in (("planted_alexnet", PLANTED[1]), ("planted_deepcluster", PLANTED[2])):
        r = ind[ind["roi"] == roi_name].set_index("model")["value"]
        assert r.idxmax() == planted, (roi_name, r.to_dict())
        p = ind[(ind["roi"] == roi_name) & (ind["model"] == planted)]["p"].item()
        assert p < 0.05, (roi_name, p)
    sl = pd.read_csv(res / "tables" / "searchlight_individual.csv")
    assert set(sl["model"]) == set(names)


def test_networks_source_needs_names(tmp_path):
    cfg = _fmaps({"subjects": {"s": "x.nii.gz"}}, [])
    cfg["studies"]["nets"]["models"]["names"] = None
    full = validate_config({"dwivedi2021": cfg, "truzzi2020": {}})
    with pytest.raises(ValueError, match=r"nets\.models\.names"):
        complete_config(full)


def test_unknown_network_condition_is_refused(small_run, tmp_path):
    cfg = small_config()
    cfg["dwivedi2021"] = _fmaps(
        {"subjects": {"s": str(tmp_path / "s.nii.gz")}}, ["alexnet_trainedd"]
    )
    write_config(tmp_path, cfg)
    proc = run_snakemake(tmp_path, "-n", check=False, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "dwivedi2021.studies.nets.models.names" in out and "alexnet_trainedd" in out
