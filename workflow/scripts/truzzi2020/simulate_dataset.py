"""Generate the embedded synthetic study (Algonauts 2019 layout)."""

from pathlib import Path

from brainalign.data.synthetic import generate_synthetic_study
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params.synthetic
    out_dir = Path(snakemake.output.fmri).parent
    info = generate_synthetic_study(
        out_dir,
        n_images=p["n_images"],
        n_subjects=p["n_subjects"],
        n_voxels=p["n_voxels"],
        noise=p["noise"],
        seed=snakemake.params.seed,
    )
    log.info("wrote %d images and %d subjects to %s", info["n_images"], info["n_subjects"], out_dir)
