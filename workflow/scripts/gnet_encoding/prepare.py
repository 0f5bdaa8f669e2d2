"""One subject's prepared arrays: ROI voxels' z-scored single-trial betas, ncsnr, the trial ->
image map, the shared-1000 validation split and the resized images."""

from brainalign.io import write_npz
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.gnet_encoding.data import prepare_subject

with rule_context(snakemake) as log:
    p = snakemake.params
    subject = int(snakemake.wildcards.ge_subject[len("subj") :])
    arrays = prepare_subject(
        p.root,
        subject,
        p.sessions,
        p.rois,
        p.image_size,
        pool_size=p.pool_size,
        brainmask=p.brainmask,
    )
    log.info(
        "%s: %d trials (%d validation), %d voxels, %d images at %d px",
        snakemake.wildcards.ge_subject,
        arrays["split"].size,
        int(arrays["split"].sum()),
        arrays["roi"].size,
        arrays["images"].shape[0],
        p.image_size,
    )
    write_npz(snakemake.output[0], **arrays)
