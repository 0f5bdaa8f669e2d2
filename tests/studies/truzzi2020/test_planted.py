"""Planted truth: the default synthetic study recovers what was planted."""

import json

import pytest
import yaml
from conftest import REPO, run_snakemake, write_config

from brainalign.io.files import read_table


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The default 92-image, 15-subject study with few permutations (taus do not depend on
    the number of permutations)."""
    work = tmp_path_factory.mktemp("default92")
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    study = cfg["truzzi2020"]
    study["comparison"]["permutations"] = 20
    study["figures"]["formats"] = ["png"]
    write_config(work, cfg)
    # dataset.name left out: the embedded 92-image study is named synthetic92
    name = study["dataset"].get("name") or "synthetic92"
    out = f"results/truzzi2020/{name}/tables"
    run_snakemake(work, f"{out}/comparison.csv", f"{out}/noise_ceiling.csv")
    return work / "results" / "truzzi2020" / name


@pytest.mark.slow
def test_evc_peaks_earlier_than_it_for_every_network(default_run):
    comp = read_table(default_run / "tables" / "comparison.csv")
    means = comp.groupby(["condition", "region", "layer_index"])["value"].mean()
    for condition in sorted(set(comp["condition"])):
        peak = {r: int(means[condition][r].idxmax()) for r in ("EVC", "IT")}
        assert peak["EVC"] < peak["IT"], (condition, peak, means[condition].unstack())


@pytest.mark.slow
def test_every_network_lies_below_the_upper_noise_ceiling(default_run):
    comp = read_table(default_run / "tables" / "comparison.csv")
    nc = read_table(default_run / "tables" / "noise_ceiling.csv")
    upper = nc[nc["bound"] == "upper"].groupby("region")["value"].mean()
    means = comp.groupby(["region", "condition", "layer_index"])["value"].mean()
    for (region, _, _), value in means.items():
        assert value < upper[region]


@pytest.mark.slow
def test_it_noise_ceiling_is_of_the_real_order(default_run):
    nc = read_table(default_run / "tables" / "noise_ceiling.csv")
    it = nc[nc["region"] == "IT"].groupby("bound")["value"].mean()
    assert 0.2 < it["lower"] < it["upper"] < 0.4
    truth = json.loads((default_run / "data" / "92_Image_Set" / "ground_truth.json").read_text())
    assert truth["n_subjects"] == 15 and truth["categories"]["natural object"] == 23
