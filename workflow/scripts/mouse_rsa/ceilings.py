"""Split-half noise ceilings (tau-a; raw and Spearman-Brown-corrected) of every area x depth."""

import pandas as pd

from brainalign.io import read_npz, write_table
from brainalign.pipeline.provenance import rule_provenance, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.pipeline.seeds import derive_seed
from brainalign.rsa.noise_ceiling import split_half_ceiling
from brainalign.studies.mouse_rsa.analysis import ceiling_rows

with rule_context(snakemake) as log:
    p = snakemake.params
    stimulus = snakemake.wildcards.mr_stimulus
    rows = []
    for key, x in read_npz(snakemake.input[0]).items():
        area, depth = key.rsplit("_", 1)
        split = split_half_ceiling(x, p.n_splits, derive_seed(p.seed, key), method="tau_a")
        rows.append(ceiling_rows(split, area=area, depth=int(depth), stimulus=stimulus))
        log.info("%s: split-half tau-a median %.3f (Spearman-Brown %.3f)", key,
                 float(pd.Series(split["split"]).median()),
                 float(pd.Series(split["spearman_brown"]).median()))  # fmt: skip
    prov = rule_provenance(snakemake.config, snakemake.input, p.seed)
    write_table(with_provenance(pd.concat(rows, ignore_index=True), prov), snakemake.output[0])
