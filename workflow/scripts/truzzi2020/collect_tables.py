"""Concatenate the per-condition, per-region comparison tables into one table."""

import pandas as pd

from brainalign.io.files import read_table, write_table
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    files = list(snakemake.input.comparison)
    table = pd.concat([read_table(f) for f in files], ignore_index=True)
    log.info("comparison: %d rows from %d files", len(table), len(files))
    write_table(table, snakemake.output.comparison)
