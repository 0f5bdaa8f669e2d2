"""The study's table functions against independent implementations."""

import numpy as np
import pandas as pd
from scipy.stats import pearsonr
from statsmodels.stats.proportion import proportion_confint

from brainalign.rsa.similarity import compare_full_matrices, compare_rsms
from brainalign.studies.decoding_robustness.rsms import rsm_of, similarity_rows
from brainalign.studies.decoding_robustness.tables import (
    accuracy_drop,
    accuracy_rows,
    confusion_rows,
    robustness_question,
)


def test_accuracy_rows_and_drop():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 57)
    preds = {1: y.copy(), 8: np.where(rng.random(57) < 0.5, y, (y + 1) % 3)}
    t = accuracy_rows("net", 3, "corrected", preds, y)
    for _, r in t.iterrows():
        k = int(np.sum(preds[r["blur_level"]] == y))
        lo, hi = proportion_confint(k, 57, alpha=0.05, method="beta")
        assert r["correct"] == k and np.isclose(r["ci_low"], lo) and np.isclose(r["ci_high"], hi)
    assert t["chance"].iloc[0] == np.bincount(y).max() / 57
    d = accuracy_drop(t)
    assert np.isclose(d["accuracy_drop"].iloc[0], 100 * (1 - t["accuracy"].iloc[1]))


def test_confusion_rows_count_pairs():
    y, p = np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2])
    c = confusion_rows("n", 0, y, p, ["a", "b", "c"])
    m = c.pivot(index="true_class", columns="predicted_class", values="count")
    np.testing.assert_array_equal(m.to_numpy(), [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_similarity_rows_are_the_core_comparisons():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1, 2], 8)
    a = rng.standard_normal((24, 10)) + 2 * np.eye(10)[labels]
    b = a + rng.standard_normal((24, 10))
    ra, order, _ = rsm_of(a, labels, 3)
    rb, _, _ = rsm_of(b, labels, 3)
    assert np.array_equal(labels[order], np.sort(labels))
    t = similarity_rows("b", 0, rb, ra, n_permutations=99, n_bootstrap=50, seed=4)
    assert t.loc[t["variant"] == "faithful", "value"].item() == compare_full_matrices(rb, ra)
    core = compare_rsms(rb, ra, method="spearman", n_permutations=99, n_bootstrap=50, seed=4)
    row = t[t["variant"] == "corrected"].iloc[0]
    assert row["value"] == core["statistic"] and row["p"] == core["p"]
    assert row["ci_low"] == core["ci_low"]


def test_robustness_question_is_pearson_across_networks():
    sim = pd.DataFrame({"network": list("abcde"), "training_seed": 0, "variant": "corrected",
                        "value": [0.1, 0.3, 0.2, 0.5, 0.4]})  # fmt: skip
    drops = pd.DataFrame({"network": list("abcde"), "training_seed": 0,
                          "accuracy_drop": [20.0, 11, 15, 3, 9]})  # fmt: skip
    q = robustness_question(sim, drops).iloc[0]
    ref = pearsonr(sim["value"], drops["accuracy_drop"])
    ci = ref.confidence_interval(0.95)
    assert np.isclose(q["value"], ref.statistic) and np.isclose(q["p"], ref.pvalue)
    assert np.isclose(q["ci_low"], ci.low) and q["n_points"] == 5
    assert np.isnan(robustness_question(sim.iloc[:3], drops).iloc[0]["ci_low"])
