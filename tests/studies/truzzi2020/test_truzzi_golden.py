"""The restructure changed no number: the small study's tables equal those saved before the move.

``tests/data/golden/truzzi2020_small/`` holds the tables the code of commit edad278 wrote for
``tests/configs/truzzi2020/small.yaml`` (the same seeds). Documented changes (README "Changes"):
results moved to ``results/truzzi2020/<dataset>/``, and ``config_hash`` differs because the config
is laid out in study blocks; ``dataset_sha256`` (the digest of the prepared dataset file) differs
since issue 15's ``compute_rdm`` (its float64 RDMs may differ in the last bit; their ranks, and
every statistic here, do not). Every other column, numbers included, is identical.
"""

from __future__ import annotations

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
    pd.testing.assert_frame_equal(after[cols], before[cols])
