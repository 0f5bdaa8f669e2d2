"""The whole study on real data: the Kriegeskorte et al. (2008) 92 images and human IT RDMs.

Runs ``snakemake --configfile tests/configs/truzzi2020/kriegeskorte2008.yaml`` in a scratch
directory (truzzi2020.dataset.path made absolute) with untrained networks and few permutations,
then recomputes every per-subject Kendall tau independently with scipy from the raw ``.mat``
files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.io import loadmat
from scipy.spatial.distance import pdist, squareform
from scipy.stats import kendalltau

REPO = Path(__file__).resolve().parents[3]
CONFIG = REPO / "tests" / "configs" / "truzzi2020" / "kriegeskorte2008.yaml"
SHARED = (REPO / ".." / "shared" / "data" / "kriegeskorte2008").resolve()
FILES = ("Kriegeskorte_Neuron2008_supplementalData.mat", "92_brainRDMs.mat")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all((SHARED / f).is_file() for f in FILES),
        reason=f"the real Kriegeskorte 2008 files are not present in {SHARED}",
    ),
]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("kriegeskorte_run")
    config = yaml.safe_load(CONFIG.read_text())
    dataset = config["truzzi2020"]["dataset"]
    assert dataset["path"] == "../shared/data/kriegeskorte2008"
    dataset["path"] = str(SHARED)
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    exe = Path(sys.executable).with_name("snakemake")
    proc = subprocess.run(
        [
            str(exe),
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(work),
            "--configfile",
            str(work / "config.yaml"),
            "--cores",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return work / "results" / "truzzi2020" / dataset["name"]


def raw_subject_rdms() -> tuple[list[str], np.ndarray]:
    """Subject RDMs straight from 92_brainRDMs.mat: the mean of each subject's 2 sessions."""
    s = loadmat(SHARED / "92_brainRDMs.mat")["RDMs"]
    names = [str(s[0, i, 0]["name"][0]).split("|")[1].strip() for i in range(s.shape[1])]
    rdms = np.stack(
        [
            (np.asarray(s[0, i, 0]["RDM"], np.float64) + np.asarray(s[0, i, 1]["RDM"], np.float64))
            / 2
            for i in range(s.shape[1])
        ]
    )
    return names, rdms


def test_real_images_and_brain_rdms_are_used(real_run):
    stim = np.load(real_run / "dataset" / "stimuli.npz")
    raw = loadmat(SHARED / FILES[0])["stimuli_92objs"]
    assert stim["images"].shape == (92, 175, 175, 3)
    for i in (0, 45, 91):
        np.testing.assert_array_equal(stim["images"][i], raw[0, i]["image"])
    brain = np.load(real_run / "dataset" / "brain_rdms.npz")
    names, rdms = raw_subject_rdms()
    assert list(brain["subjects"]) == names == ["BE", "KO", "SN", "TI"]
    np.testing.assert_array_equal(brain["rdm_IT"], rdms)


def test_per_subject_taus_equal_scipy(real_run):
    table = pd.read_csv(real_run / "tables" / "comparison.csv")
    study = yaml.safe_load(CONFIG.read_text())["truzzi2020"]
    conditions = study["conditions"]
    assert set(table["condition"]) == set(conditions)
    assert set(table["statistic"]) == {"tau_b"}
    assert len(table) == len(conditions) * 7 * 4
    n_perm = study["comparison"]["permutations"]
    k = table["p"] * (n_perm + 1) - 1
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)
    subjects, brain = raw_subject_rdms()
    checked = 0
    for condition in conditions:
        acts = np.load(real_run / "activations" / f"{condition}.npz")
        model = np.load(real_run / "rdms" / f"{condition}.npz")
        for li, layer in enumerate(model["layer_names"]):
            # the model RDM, recomputed independently (1 - Pearson r between images)
            own = pdist(acts[layer].astype(np.float64), metric="correlation")
            np.testing.assert_allclose(
                squareform(model["rdms"][li], checks=False), own, rtol=0, atol=1e-9
            )
            for s, subject in enumerate(subjects):
                brain_vec = squareform(brain[s], checks=False)
                exact = kendalltau(squareform(model["rdms"][li], checks=False), brain_vec)[0]
                independent = kendalltau(own, brain_vec)[0]
                row = table[
                    (table.condition == condition)
                    & (table.layer == layer)
                    & (table.subject == subject)
                    & (table.region == "IT")
                ]
                assert len(row) == 1
                value = row["value"].iloc[0]
                assert abs(value - exact) < 1e-12, (condition, layer, subject)
                assert abs(value - independent) < 1e-6, (condition, layer, subject)
                checked += 1
    assert checked == len(conditions) * 7 * 4


def test_noise_ceiling_and_statistics_cover_the_four_subjects(real_run):
    nc = pd.read_csv(real_run / "tables" / "noise_ceiling.csv")
    assert sorted(set(nc["subject"])) == ["BE", "KO", "SN", "TI"]
    lower = nc[nc.bound == "lower"]["value"].mean()
    upper = nc[nc.bound == "upper"]["value"].mean()
    assert 0 < lower < upper < 1
    anova = pd.read_csv(real_run / "tables" / "anova.csv")
    assert len(anova) == 3
    assert (real_run / "figures" / "profiles_IT.png").stat().st_size > 10_000
