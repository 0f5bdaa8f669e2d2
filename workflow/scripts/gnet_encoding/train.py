"""Train GNet8j (all ROI voxels) or one GNet8r (one ROI's voxels) jointly over subjects; write
the model, its training history and the per-voxel validation accuracy."""

from brainalign.io import write_table
from brainalign.networks.device import pick_device, retain_freed_memory
from brainalign.pipeline.provenance import rule_provenance, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.gnet_encoding import models as M
from brainalign.studies.gnet_encoding.names import roi_of

with rule_context(snakemake) as log:
    retain_freed_memory()  # the same large tensors every batch: no page faults for them
    p = snakemake.params
    name = snakemake.wildcards.ge_model
    device = pick_device(p.device)
    prepared, inputs = M.prepared_inputs(
        snakemake.input,
        weights=p.weights,
        seed=p.prefilter_seed,
        cache=p.training["cache_prefilter"],
        device=device,
    )
    voxels = M.roi_voxels(prepared, roi_of(name))
    model, history, best = M.train_model(inputs, voxels, p.training, seed=p.seed, device=device)
    log.info(
        "%s on %s: best epoch %d of %d, joint median holdout r %.3f",
        name,
        device,
        best,
        p.training["epochs"],
        history.loc[history["epoch"] == best, "joint_median_r"].iloc[0],
    )
    accuracy = M.validation_accuracy(model, inputs, prepared, voxels, name)
    prov = rule_provenance(snakemake.config, snakemake.input, p.seed)
    M.save_gnet(
        snakemake.output.model, model, M.gnet_meta(model, inputs, p.training["trunk_width"], best)
    )
    history.insert(0, "model", name)
    history["best"] = history["epoch"] == best
    write_table(with_provenance(history, prov), snakemake.output.history)
    write_table(with_provenance(accuracy, prov), snakemake.output.accuracy)
