"""The restructure changed no number: the small study's tables equal those saved before the move.

``tests/data/golden/truzzi2020_small/`` holds the tables the code of commit edad278 wrote for
``tests/configs/truzzi2020/small.yaml`` (the same seeds). Documented changes (README "Changes"):
results moved to ``results/truzzi2020/<dataset>/``, and ``config_hash`` differs because the config
is laid out in study blocks; ``dataset_sha256`` (the digest of the prepared dataset file) differs
since issue 15's ``compute_rdm`` (its float64 RDMs may differ in the last bit; their ranks, and
every statistic here, do not). Every other column is identical: text exactly, numbers to
1e-12 relative (their last bits follow the CPU's BLAS/LAPACK kernels).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

GOLDEN = REPO / "tests" / "data" / "golden" / "truzzi2020_small"
CHANGED = {"config_hash", "versions", "dataset_sha256"}


@pytest.mark.slow
@pytest.mark.parametrize("table", ["comparison", "noise_ceiling", "anova", "posthoc"])
def test_tables_equal_those_before_the_restructure(small_run, table):
    before = pd.read_csv(GOLDEN / f"{table}.csv", dtype=str, keep_default_na=False)
    after = pd.read_csv(
        small_run / "results" / "truzzi2020" / "small" / "tables" / f"{table}.csv",
        dtype=str,
        keep_default_na=False,
    )
    assert list(after.columns) == list(before.columns)
    cols = [c for c in before.columns if c not in CHANGED]
    assert len(after) == len(before)
    for col in cols:
        a, b = after[col], before[col]
        num_a, num_b = pd.to_numeric(a, errors="coerce"), pd.to_numeric(b, errors="coerce")
        if num_b.notna().sum() == (b != "").sum() and (b != "").any():
            # Numbers to 1e-12 relative: the golden tables come from another machine, and
            # the last bits of LAPACK/BLAS results (pingouin's sphericity correction) follow
            # the CPU's kernels. Any change of method moves them far more.
            assert ((a == "") == (b == "")).all(), col
            np.testing.assert_allclose(num_a, num_b, rtol=1e-12, atol=1e-15, err_msg=col)
        else:
            assert a.tolist() == b.tolist(), col
