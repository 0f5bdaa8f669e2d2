"""Train one network from images (supervised or DeepCluster), resuming a killed run."""

from brainalign.io.files import write_table
from brainalign.networks.device import retain_freed_memory
from brainalign.networks.image_training import latest_checkpoint, save_checkpoint
from brainalign.pipeline.provenance import provenance_fields, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.truzzi2020.training import (
    clear_state,
    history_long,
    images_digest,
    reset_stale_state,
    train_network,
)

with rule_context(snakemake) as log:
    retain_freed_memory()  # the same large tensors every step: no page faults for them
    p = snakemake.params
    network = snakemake.wildcards.tnet
    images = snakemake.input.images
    digest = images_digest(images)
    settings = {
        "network": network,
        "training": p.training,
        "seed": p.seed,
        "code": p.code,
        "images": digest,
    }
    if reset_stale_state(p.state, settings):
        log.info("removed epoch checkpoints of other settings from %s", p.state)
    resumed = latest_checkpoint(p.state)
    if resumed is not None:
        log.info("resuming after %s", resumed.name)

    _, payload, history = train_network(
        network,
        images,
        p.training,
        seed=p.seed,
        state_dir=p.state,
        on_epoch=lambda epoch: log.info("epoch %d: checkpoint written", epoch),
    )
    log.info("last epoch:\n%s", history.tail(1).to_string(index=False))
    save_checkpoint(snakemake.output.checkpoint, payload)
    fields = provenance_fields(snakemake.config, digest, p.seed)
    write_table(with_provenance(history_long(history, network), fields), snakemake.output.history)
    clear_state(p.state)
