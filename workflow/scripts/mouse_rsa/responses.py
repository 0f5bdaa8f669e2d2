"""Pseudo-population responses of every area x depth to one stimulus (trials, conditions,
cells) from the L0 events, and the cells that make them."""

import pandas as pd

from brainalign.data.allen import allen_area_responses
from brainalign.io import read_table, write_npz, write_table
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    stimulus = snakemake.wildcards.mr_stimulus
    sel = read_table(snakemake.input.experiments)
    out, cells = {}, []
    for area, depth in snakemake.params.combos:
        x, c = allen_area_responses(sel, area, stimulus, depths=[depth])
        out[f"{area}_{depth}"] = x
        cells.append(c.assign(stimulus=stimulus))
        log.info("%s %d um: %d trials x %d conditions x %d cells", area, depth, *x.shape)
    write_npz(snakemake.output.responses, **out)
    write_table(pd.concat(cells, ignore_index=True), snakemake.output.cells)
