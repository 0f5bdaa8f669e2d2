"""Generate the embedded synthetic study (Algonauts 2019 layout)."""

from pathlib import Path

from brainalign.datasets.synthetic import generate_synthetic_study
from brainalign.rulekit import rule_context

with rule_context(snakemake) as log:  # noqa: F821
    p = snakemake.params.synthetic  # noqa: F821
    out_dir = Path(snakemake.output.fmri).parent  # noqa: F821
    info = generate_synthetic_study(
        out_dir, n_images=p["n_images"], n_subjects=p["n_subjects"], n_voxels=p["n_voxels"],
        noise=p["noise"], seed=snakemake.params.seed,  # noqa: F821
    )
    log.info("wrote %d images and %d subjects to %s", info["n_images"], info["n_subjects"],
             out_dir)
