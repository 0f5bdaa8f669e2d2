"""One table of every trained network's per-epoch history."""

import pandas as pd

from brainalign.io.files import read_table, write_table
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    files = list(snakemake.input)
    table = pd.concat([read_table(f) for f in files], ignore_index=True)
    log.info("training: %d rows from %d networks", len(table), len(files))
    write_table(table, snakemake.output[0])
