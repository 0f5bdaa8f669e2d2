"""Planted truth: the default synthetic study recovers what was planted."""

import json

import pytest
import yaml
from conftest import REPO, run_snakemake, write_config
from scipy.stats import ttest_rel

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
    run_snakemake(work, f"{out}/comparison.csv", f"{out}/noise_ceiling.csv", f"{out}/training.csv")
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


@pytest.mark.slow
def test_networks_trained_on_the_categories_fit_it_better_in_later_layers(default_run):
    """The simulated IT holds categorical structure: each network trained by the workflow on the
    embedded categories fits it better than its untrained version in fc6 and fc7 (mean over
    subjects, and a paired one-sided t-test over the 15 subjects of the fc6-fc7 mean)."""
    comp = read_table(default_run / "tables" / "comparison.csv")
    it = comp[(comp["region"] == "IT") & (comp["layer_index"] >= 6)]
    per_subject = it.groupby(["condition", "subject"])["value"].mean()
    means = it.groupby(["condition", "layer_index"])["value"].mean()
    for net in ("alexnet", "deepcluster", "modified_alexnet"):
        for layer in (6, 7):
            trained = means[(f"{net}_trained", layer)]
            untrained = means[(f"{net}_untrained", layer)]
            assert trained > untrained, (net, layer, trained, untrained)
        t = ttest_rel(per_subject[f"{net}_trained"], per_subject[f"{net}_untrained"])
        assert t.statistic > 0 and t.pvalue / 2 < 0.05, (net, t)


@pytest.mark.slow
def test_deepcluster_clusters_share_the_categories_beyond_chance(default_run):
    """DeepCluster's clusters (never shown a label) carry the true categories: NMI with them
    stays well above its chance level in every epoch, and the clusters stabilise (NMI with the
    previous epoch's clusters rises above its first value)."""
    hist = read_table(default_run / "tables" / "training.csv")
    dc = hist[hist["network"] == "deepcluster"].pivot(
        index="epoch", columns="statistic", values="value"
    )
    assert len(dc) >= 4
    assert (dc["nmi_true"] > 2 * dc["nmi_chance"]).all(), dc[["nmi_true", "nmi_chance"]]
    assert (dc["nmi_true"] - dc["nmi_chance"]).min() > 0.1
    previous = dc["nmi_previous"].dropna()
    assert previous.iloc[-3:].mean() > previous.iloc[0], previous


@pytest.mark.slow
def test_supervised_networks_learn_the_embedded_categories(default_run):
    hist = read_table(default_run / "tables" / "training.csv")
    top1 = hist[hist["statistic"] == "top1"].pivot(index="epoch", columns="network", values="value")
    for net in ("alexnet", "modified_alexnet"):
        assert top1[net].iloc[-1] > 0.4, (net, top1[net].tolist())  # chance: 1/6
