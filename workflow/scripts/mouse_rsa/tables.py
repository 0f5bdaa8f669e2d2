"""The study's tables: comparisons, noise ceilings, family differences and cell counts of all
stimuli."""

import pandas as pd

from brainalign.io import read_table, write_table
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    inp, out = snakemake.input, snakemake.output
    for paths, dest in ((inp.comparison, out.comparison), (inp.ceilings, out.ceilings),
                        (inp.families, out.families), (inp.cells, out.cells)):  # fmt: skip
        table = pd.concat([read_table(f) for f in paths], ignore_index=True)
        write_table(table, dest)
        log.info("%s: %d rows", dest, len(table))
