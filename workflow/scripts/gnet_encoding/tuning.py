"""Readout tuning of GNet8j: inclusion and exclusion accuracy of each feature group (7 layer
groups, the bipartite split) over bootstrap resamples of the validation trials, per voxel; and
each subject's feature-layer map (the preferred layer group of every voxel, a NIfTI volume)."""

import nibabel as nib

from brainalign.io import write_table
from brainalign.maps.nifti import save_nifti, voxels_image
from brainalign.networks.device import retain_freed_memory
from brainalign.pipeline.provenance import rule_provenance, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.gnet_encoding import models as M
from brainalign.studies.gnet_encoding.tuning import preferred_layer_codes

with rule_context(snakemake) as log:
    retain_freed_memory()  # the same large tensors every batch: no page faults for them
    p, out = snakemake.params, snakemake.output
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
    for subject, reference, dest in zip(p.subjects, p.references, out.maps, strict=True):
        index = prepared[subject]["voxel_index"]
        codes = preferred_layer_codes(table, subject, index.size, p.tuning["threshold"])
        save_nifti(voxels_image(codes, index, nib.load(reference), dtype="int16"), dest)
        log.info("%s: feature-layer map of %d voxels -> %s", subject, (codes > 0).sum(), dest)
    prov = rule_provenance(snakemake.config, snakemake.input, p.seed)
    write_table(with_provenance(table, prov), out.voxels)
