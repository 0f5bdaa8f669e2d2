import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.anova import AnovaRM
from statsmodels.stats.multitest import multipletests

from brainalign.stats.anova import posthoc_tests, rm_anova


def _table(seed=0, n_subjects=8):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        subj = rng.normal(0, 0.02)
        for c, shift in (("a_untrained", 0.03), ("b_trained", 0.0)):
            for li in range(1, 8):
                v = 0.05 + shift + 0.01 * li * (c == "b_trained") + subj + rng.normal(0, 0.01)
                rows.append((f"{s:02d}", c, f"L{li}", li, v))
    return pd.DataFrame(rows, columns=["subject", "condition", "layer", "layer_index", "value"])


def test_rm_anova_equals_statsmodels_anovarm():
    df = _table()
    ours = rm_anova(df, ["a_untrained", "b_trained"]).set_index("source")
    ref = AnovaRM(df, "value", "subject", within=["condition", "layer"]).fit().anova_table
    for src_ours, src_ref in (
        ("condition", "condition"),
        ("layer", "layer"),
        ("condition * layer", "condition:layer"),
    ):
        assert ours.loc[src_ours, "F"] == pytest.approx(ref.loc[src_ref, "F Value"], rel=1e-10)
        assert ours.loc[src_ours, "p"] == pytest.approx(ref.loc[src_ref, "Pr > F"], rel=1e-8)
        assert ours.loc[src_ours, "ddof1"] == ref.loc[src_ref, "Num DF"]
        assert ours.loc[src_ours, "ddof2"] == ref.loc[src_ref, "Den DF"]


def test_faithful_posthocs_equal_scipy_ttest_ind_uncorrected():
    df = _table(1)
    ph = posthoc_tests(df, ["a_untrained", "b_trained"], mode="faithful")
    wide = df.pivot_table(index="subject", columns=["condition", "layer_index"], values="value")
    between = ph[ph["test"] == "between_conditions"]
    assert len(between) == 7
    for li, row in zip(range(1, 8), between.itertuples(), strict=True):
        t, p = sps.ttest_ind(wide[("a_untrained", li)], wide[("b_trained", li)])
        assert row.t == pytest.approx(t, rel=1e-10) and row.p == pytest.approx(p, rel=1e-10)
        assert row.p_corrected == row.p and not row.paired
    fl = ph[ph["test"] == "first_vs_last"].iloc[0]
    t, p = sps.ttest_ind(wide[("a_untrained", 1)], wide[("a_untrained", 7)])
    assert fl.t == pytest.approx(t, rel=1e-10)


def test_corrected_posthocs_are_paired_and_holm_corrected():
    df = _table(2)
    ph = posthoc_tests(df, ["a_untrained", "b_trained"], mode="corrected")
    wide = df.pivot_table(index="subject", columns=["condition", "layer_index"], values="value")
    raw = []
    for li in range(1, 8):
        raw.append(sps.ttest_rel(wide[("a_untrained", li)], wide[("b_trained", li)]).pvalue)
    for c in ("a_untrained", "b_trained"):
        raw.append(sps.ttest_rel(wide[(c, 1)], wide[(c, 7)]).pvalue)
    np.testing.assert_allclose(ph["p"], raw, rtol=1e-10)
    np.testing.assert_allclose(ph["p_corrected"], multipletests(raw, method="holm")[1], rtol=1e-10)
    assert ph["paired"].all() and (ph["correction"] == "holm").all()


def test_statistics_errors():
    df = _table()
    with pytest.raises(ValueError, match="condition 'c' has no results"):
        rm_anova(df, ["a_untrained", "c"])
    with pytest.raises(ValueError, match="unknown post-hoc mode 'bonferroni'"):
        posthoc_tests(df, ["a_untrained", "b_trained"], mode="bonferroni")
