"""The Taskonomy model-RDM rule end to end: encoder checkpoints + stimuli -> model RDM files."""

from __future__ import annotations

import hashlib
import subprocess

import numpy as np
import pytest
from scipy.io import loadmat
from scipy.spatial.distance import pdist, squareform
from test_fmaps_planted import _fixture_data, fmaps_workflow

N = 8


@pytest.mark.slow
def test_taskonomy_rdms_rule(tmp_path):
    import torch
    from PIL import Image

    from brainalign.networks import taskonomy as tk

    _, v = _fixture_data(tmp_path, n=N)
    rng = np.random.default_rng(3)
    stimuli = tmp_path / "stimuli"
    stimuli.mkdir()
    images = [rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8) for _ in range(N)]
    for i, img in enumerate(images):
        Image.fromarray(img).save(stimuli / f"img_{i:02d}.png")
    weights = tmp_path / "weights"
    weights.mkdir()
    torch.manual_seed(11)
    encoder = tk.TaskonomyEncoder()
    tmp = weights / "ckpt.tmp"
    torch.save({"state_dict": encoder.state_dict()}, tmp)
    sha = hashlib.sha256(tmp.read_bytes()).hexdigest()
    tmp.rename(weights / f"edge2d_encoder-{sha}.pth")

    cfg = {"dwivedi2021": {
        "studies": {"tk": {
            "source": "volumes",
            "volumes": {"subjects": {f"sub-{s}": str(v / f"sub-{s}.nii.gz") for s in (1, 2, 3)},
                        "mask": str(v / "mask.nii.gz"), "rois": str(v / "atlas.nii.gz"),
                        "roi_table": str(v / "atlas.tsv")},
            "models": {"source": "taskonomy", "names": ["edge2d", "random"],
                       "layers": ["encoder_output"],
                       "groups": {"2D": ["edge2d"], "none": ["random"]}},
            "taskonomy": {"weights_dir": str(weights), "stimuli_dir": str(stimuli),
                          "batch_size": 3},
        }},
        "searchlight": {"radius": 1.5},
        "statistics": {"n_permutations": 20, "n_bootstrap": 5},
    }}  # fmt: skip
    wf, snake, env = fmaps_workflow(tmp_path / "wf", cfg)
    run = subprocess.run(snake, env=env, cwd=wf, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]

    models = wf / "results" / "dwivedi2021" / "tk" / "models" / "taskonomy"
    feats = tk.extract_features(encoder, tk.preprocess(images), ("encoder_output",))
    expected = squareform(pdist(feats["encoder_output"], "correlation"))
    got = loadmat(models / "edge2d_encoder_output.mat")["rdm"]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    rand = loadmat(models / "random_encoder_output.mat")["rdm"]
    assert rand.shape == (N, N) and np.all(np.isfinite(rand))
    assert not np.allclose(rand, got)
    assert not list(models.glob(".*tmp*"))
    tables = wf / "results" / "dwivedi2021" / "tk" / "tables"
    assert (tables / "roi_statistics.csv").stat().st_size > 0
