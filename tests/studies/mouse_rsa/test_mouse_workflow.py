"""The mouse RSA study end to end on the small test config, its planted truth, determinism,
the DAG of the real-data configuration, and the comparison statistics against oracles."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import (
    REPO,
    assert_same_tables,
    run_study,
    scheduled_jobs,
    write_config,
)

from brainalign.studies.mouse_rsa.analysis import compare_layers, family_differences, tau_a_many

SMALL = REPO / "tests" / "configs" / "mouse_rsa" / "small.yaml"
OUT = Path("results") / "mouse_rsa" / "simulated"
TABLES = ("comparison", "noise_ceiling", "family_differences", "cells")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return run_study(tmp_path_factory.mktemp("mouse"), SMALL)


def _table(wd, name):
    return pd.read_csv(wd / OUT / "tables" / f"{name}.csv")


@pytest.mark.slow
def test_outputs(study):
    c = _table(study, "comparison")
    assert set(c["model"]) == {"visualnet", "pixel"} and set(c["model_seed"]) == {0, 1}
    assert set(c["stimulus"]) == {"natural_scenes", "natural_movie_one"}
    assert {"value", "p", "p_fdr", "value_nc", "tau_a_all_trials"} <= set(c.columns)
    figures = {p.name for p in (study / OUT / "figures").iterdir()}
    assert {"grid_natural_scenes.png", "layers_VISp_175_natural_movie_one.png",
            "brain_rdms_natural_scenes.png"} <= figures  # fmt: skip
    fam = _table(study, "family_differences")
    assert (fam["ci_low"] <= fam["value"]).all() and (fam["value"] <= fam["ci_high"]).all()


@pytest.mark.slow
def test_planted_truth(study):
    planted = json.loads((study / OUT / "data" / "planted.json").read_text())
    ceil = _table(study, "noise_ceiling")
    ceil = ceil[ceil["variant"] == "faithful"]
    for stimulus, g in ceil.groupby("stimulus"):
        got = g.groupby("area")["value"].median().sort_values(ascending=False).index.tolist()
        order = [a for a in planted["reliability_order"][stimulus] if a in got]
        assert got == order, (stimulus, got, order)
    # the low-level area is best fitted by an earlier layer than the deep one (scenes)
    c = _table(study, "comparison")
    net = c[(c["model"] == "visualnet") & (c["stimulus"] == "natural_scenes")]
    best = {area: g.groupby("layer_index")["value"].median().idxmax()
            for area, g in net.groupby("area")}  # fmt: skip
    assert best["VISp"] < best["VISam"], best


@pytest.mark.slow
def test_same_config_twice_gives_identical_tables(study, tmp_path):
    assert_same_tables(study, run_study(tmp_path / "again", SMALL), OUT, TABLES)


def test_real_data_dag_downloads_then_analyses(tmp_path):
    dataset = {"source": "allen", "cache_dir": str(tmp_path / "cache")}
    write_config(tmp_path, {"mouse_rsa": {"dataset": dataset}})
    rules = {r for r, _ in scheduled_jobs(tmp_path)}
    assert {"mr_download", "mr_select", "mr_responses", "mr_brain_rdms", "mr_ceilings",
            "mr_model_rdms", "mr_compare", "mr_figures"} <= rules  # fmt: skip
    assert "mr_simulate" not in rules


def test_tau_a_equals_rsatoolbox_and_mantel():
    from rsatoolbox.rdm import RDMs, compare

    from brainalign.rsa.mantel import draw_permutations, mantel_test

    rng = np.random.default_rng(0)
    n = 14
    m = n * (n - 1) // 2
    boot = rng.random((6, m))
    layers = {"a": boot.mean(0) + 0.3 * rng.random(m), "b": np.round(rng.random(m), 1)}
    ref = compare(RDMs(np.stack(list(layers.values()))), RDMs(boot), method="tau-a")
    for k, v in enumerate(layers.values()):
        np.testing.assert_allclose(tau_a_many(v, boot), ref[k], atol=1e-12)
    full = boot.mean(0)
    table, draws = compare_layers(layers, boot, full, n_permutations=99, seed=3)
    perms = draw_permutations(n, 99, 3)
    for row in table.itertuples():
        res = mantel_test(layers[row.layer], full, "tau_a", permutations=perms,
                          alternative="greater")  # fmt: skip
        assert row.p == res.pvalue and row.tau_a_all_trials == res.statistic
    np.testing.assert_allclose(table["value"], draws.mean(axis=1))


def test_family_differences():
    d = {"x": np.array([[0.3, 0.2, 0.4, 0.1]]), "y": np.array([[0.1, 0.1, 0.1, 0.2]])}
    t = family_differences(d, [("x", "y")], ci=0.5).iloc[0]
    diff = np.array([0.2, 0.1, 0.3, -0.1])
    assert t["value"] == pytest.approx(diff.mean())
    assert t["ci_low"] == pytest.approx(np.quantile(diff, 0.25))
    assert t["p"] == pytest.approx(min(1, 2 * (1 + 1) / 5))
