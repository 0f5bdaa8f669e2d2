"""Readout tuning of GNet8j: inclusion and exclusion accuracy of each feature group (7 layer
groups, the bipartite split) over bootstrap resamples of the validation trials, per voxel."""

from brainalign.io import write_table
from brainalign.pipeline.provenance import rule_provenance, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.gnet_encoding import models as M

with rule_context(snakemake) as log:
    p = snakemake.params
    prepared, inputs = M.prepared_inputs(
        snakemake.input.prepared,
        weights=p.weights,
        seed=p.prefilter_seed,
        cache=p.training["cache_prefilter"],
        device="cpu",
    )
    model, meta = M.load_gnet(snakemake.input.model)
    table = M.tuning_voxels(
        model, inputs, prepared, meta["trunk_width"], n_boot=p.tuning["n_bootstrap"], seed=p.seed
    )
    log.info("tuning: %d voxel x group rows", len(table))
    prov = rule_provenance(snakemake.config, snakemake.input, p.seed)
    write_table(with_provenance(table, prov), snakemake.output[0])
