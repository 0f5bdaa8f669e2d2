"""Main-study layer RDMs as functional-maps model RDMs (one ``{condition}_{layer}.mat`` each)."""

from brainalign.data.fmaps_files import write_model_rdms
from brainalign.io.files import read_npz
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    for condition, path in zip(p.names, snakemake.input, strict=True):
        d = read_npz(path)
        rdms = dict(zip((str(x) for x in d["layer_names"]), d["rdms"], strict=True))
        written = write_model_rdms(snakemake.output[0], condition, rdms, p.layers)
        log.info("%s: %s", condition, ", ".join(f.name for f in written))
