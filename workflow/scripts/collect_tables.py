"""Concatenate the per-condition and per-region tables into one table per analysis step."""

import pandas as pd

from brainalign.io import read_table, write_table
from brainalign.rulekit import rule_context

with rule_context(snakemake) as log:  # noqa: F821
    for key in ("comparison", "noise_ceiling"):
        files = list(snakemake.input[key])  # noqa: F821
        table = pd.concat([read_table(f) for f in files], ignore_index=True)
        log.info("%s: %d rows from %d files", key, len(table), len(files))
        write_table(table, snakemake.output[key])  # noqa: F821
