"""The decoding-robustness study end to end on the small test config, its planted truth, its
reruns and its config checks (issue 12)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import (
    REPO,
    assert_same_tables,
    run_snakemake,
    run_study,
    scheduled_jobs,
    write_config,
)

from brainalign.pipeline.config import ConfigError, validate_config
from brainalign.studies.decoding_robustness import complete_config

SMALL = REPO / "tests" / "configs" / "decoding_robustness" / "small.yaml"
OUT = Path("results") / "decoding_robustness" / "simulated"
TABLES = ("accuracy", "accuracy_drop", "confusion", "training_history", "similarity",
          "class_rsm", "robustness_vs_similarity", "items")  # fmt: skip


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return run_study(tmp_path_factory.mktemp("decoding"), SMALL)


def _table(wd, name):
    return pd.read_csv(wd / OUT / "tables" / f"{name}.csv")


@pytest.mark.slow
def test_outputs_and_training_seed_columns(study):
    for name in TABLES:
        t = _table(study, name)
        assert len(t) > 0, name
        if name not in ("items", "robustness_vs_similarity"):
            assert "training_seed" in t.columns, name
    seeds = set(_table(study, "accuracy")["training_seed"])
    assert seeds == {0, 1}
    figures = sorted(p.name for p in (study / OUT / "figures").iterdir())
    assert len(figures) == 8 and all(p.endswith(".png") for p in figures)
    assert (study / OUT / "tables" / "provenance.csv").stat().st_size > 0


@pytest.mark.slow
def test_planted_truth(study):
    acc = _table(study, "accuracy")
    # the decoder is above chance (the majority-class rate) with a CI that excludes it
    dec = acc[acc["network"] == "decoder"]
    assert len(dec) == 2 and (dec["ci_low"] > dec["chance"]).all(), dec
    # the planted brain-like reference ranks first in RSM similarity: for every decoder seed
    # with the faithful comparison, and on average over the seeds with the corrected one
    sim = _table(study, "similarity")
    faithful = sim[sim["variant"] == "faithful"]
    for _seed, g in faithful.groupby("training_seed"):
        assert g.sort_values("value").iloc[-1]["network"] == "planted_reference", g
    cor = sim[sim["variant"] == "corrected"]
    assert cor.groupby("network")["value"].mean().idxmax() == "planted_reference"
    assert (cor[cor["network"] == "planted_reference"]["p"] <= 0.05).all()
    # accuracy falls with blur for a network trained on sharp images: the sharpest level beats
    # the most blurred by more than the binomial noise, and no step up exceeds two items
    net = acc[acc["network"] == "alexnet_untrained"]
    for _seed, g in net.groupby("training_seed"):
        a = g.sort_values("blur_level")["accuracy"].to_numpy()
        n = g["n_items"].iloc[0]
        assert a[0] - a[-1] > 2 * np.sqrt(0.25 / n), a
        assert np.all(np.diff(a) <= 2 / n + 1e-12), a


@pytest.mark.slow
def test_same_config_twice_gives_identical_tables(study, tmp_path):
    assert_same_tables(study, run_study(tmp_path / "again", SMALL), OUT, TABLES)


@pytest.mark.slow
def test_reruns_touch_only_what_changed(study):
    def rules_after(change):
        cfg = yaml.safe_load(SMALL.read_text())
        for key, value in change.items():
            cfg["decoding_robustness"][key] = value
        write_config(study, cfg)
        return {r for r, _ in scheduled_jobs(study)}

    try:
        assert rules_after({}) == set()
        rules = rules_after({"comparison": {"n_permutations": 199, "n_bootstrap": 150}})
        assert "dr_similarity" in rules and not rules & {"dr_network", "dr_decoder"}, rules
        rules = rules_after({"variants": {"blur": "faithful"}})
        assert "dr_network" in rules and not rules & {"dr_decoder", "dr_simulate"}, rules
    finally:
        write_config(study, SMALL)


def _checked(block):
    cfg = validate_config({"decoding_robustness": block})
    return complete_config(cfg), cfg


def test_config_checks():
    assert _checked({})[0] == []
    with pytest.raises(ConfigError, match=r"networks\[1\].*unknown backbone 'vgg12'"):
        _checked({"networks": ["alexnet_untrained", "vgg12_untrained"]})
    with pytest.raises(ConfigError, match="blur_levels.*level 2"):
        _checked({"blur_levels": [1, 2, 8]})
    with pytest.raises(ConfigError, match="must be increasing"):
        _checked({"blur_levels": [8, 1]})
    with pytest.raises(ConfigError, match=r"resnet50_trained.*resnet50-0676ba61\.pth"):
        _checked({"networks": ["resnet50_trained"]})
    with pytest.raises(ConfigError, match="data_dir.*lacks"):
        _checked({"dataset": {"source": "kay2008", "data_dir": "/nonexistent"}})


@pytest.mark.slow
def test_real_format_files_from_data_dir(tmp_path):
    """``source: kay2008`` reads files in the real format from ``data_dir`` (here written by the
    simulator, a stand-in for the Neuromatch files) through the same rules."""
    from brainalign.data.kay2008_simulate import simulate_kay

    data = tmp_path / "kay"
    simulate_kay(data, n_train=60, n_test=30, image_size=64, voxels_per_roi=(8,) * 7, seed=3)
    for extra in ("planted.json", "planted_latent.npz"):
        (data / extra).unlink()
    wd = tmp_path / "wf"
    write_config(wd, {"decoding_robustness": {
        "dataset": {"source": "kay2008", "data_dir": str(data)},
        "networks": ["alexnet_untrained"], "blur_levels": [1, 8],
        "classifier": {"epochs": 2}, "decoder": {"epochs": 2},
        "comparison": {"n_permutations": 19, "n_bootstrap": 10},
    }})  # fmt: skip
    run_snakemake(wd, "--cores", "2", timeout=600)
    out = wd / "results" / "decoding_robustness" / "kay2008" / "tables"
    sim = pd.read_csv(out / "similarity.csv")
    assert set(sim["network"]) == {"alexnet_untrained"}  # no planted reference on real data
    items = pd.read_csv(out / "items.csv")
    assert set(items["class"]) <= {"animal", "artifact", "geological formation"}
