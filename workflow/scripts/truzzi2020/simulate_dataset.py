"""Simulate the subjects of the embedded synthetic study from its stimuli."""

from pathlib import Path

from brainalign.data.synthetic import write_synthetic_brain
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params.synthetic
    out_dir = Path(snakemake.output.fmri).parent
    info = write_synthetic_brain(
        out_dir,
        n_images=p["n_images"],
        n_subjects=p["n_subjects"],
        n_voxels=p["n_voxels"],
        noise=p["noise"],
        it_weights=p["it_weights"],
        seed=snakemake.params.seed,
    )
    log.info("simulated %d subjects in %s", info["n_subjects"], out_dir)
