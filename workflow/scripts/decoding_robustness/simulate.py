"""Write the embedded Kay-format study (three data files, planted.json, planted_latent.npz)."""

from pathlib import Path

from brainalign.data.kay2008_simulate import simulate_kay
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    s = snakemake.params.simulation
    sim = simulate_kay(
        Path(snakemake.output.images).parent,
        n_train=s["n_train"],
        n_test=s["n_test"],
        image_size=s["image_size"],
        voxels_per_roi=(s["voxels_per_roi"],) * 7,
        noise=s["noise"],
        seed=snakemake.params.seed,
    )
    log.info("simulated %d train and %d test items in %s", sim.classes_train.size,
             sim.classes_test.size, sim.directory)  # fmt: skip
