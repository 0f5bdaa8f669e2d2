"""Transfer readouts: the frozen encoder of the GNet8r trained on one ROI with fresh readouts
for all ROI voxels (readout optimisers only); per-voxel validation accuracy and history."""

from brainalign.io import write_table
from brainalign.networks.device import pick_device, retain_freed_memory
from brainalign.pipeline.provenance import rule_provenance, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.gnet_encoding import models as M

with rule_context(snakemake) as log:
    retain_freed_memory()  # the same large tensors every batch: no page faults for them
    p = snakemake.params
    source = snakemake.wildcards.ge_source
    device = pick_device(p.device)
    prepared, inputs = M.prepared_inputs(
        snakemake.input.prepared,
        weights=p.weights,
        seed=p.prefilter_seed,
        cache=p.training["cache_prefilter"],
        device=device,
    )
    frozen, _ = M.load_gnet(snakemake.input.model, device)
    model, history, best = M.transfer_readouts(
        frozen.encoder, inputs, p.training, p.epochs, seed=p.seed, device=device
    )
    log.info("encoder of gnet8r_%s, fresh readouts: best epoch %d of %d", source, best, p.epochs)
    accuracy = M.validation_accuracy(model, inputs, prepared, None, f"transfer_{source}")
    accuracy.insert(0, "source", source)
    prov = rule_provenance(snakemake.config, snakemake.input, p.seed)
    history.insert(0, "model", f"transfer_{source}")
    history["best"] = history["epoch"] == best
    write_table(with_provenance(history, prov), snakemake.output.history)
    write_table(with_provenance(accuracy, prov), snakemake.output.accuracy)
