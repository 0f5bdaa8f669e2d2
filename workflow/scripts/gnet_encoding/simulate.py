"""Write the embedded NSD-format study (design .mat, stimulus HDF5, int16 NIfTI betas, ROI and
ncsnr volumes at the real paths) from the hidden hierarchical encoder, and its planted truth."""

from brainalign.data.nsd_simulate import simulate_nsd
from brainalign.io.files import write_json
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    s = p.simulation
    info = simulate_nsd(
        snakemake.output.root,
        n_subjects=s["n_subjects"],
        n_images=s["n_images"],
        n_shared=s["n_shared"],
        n_sessions=s["n_sessions"],
        volume_shape=tuple(s["volume_shape"]),
        image_size=s["image_size"],
        seed=p.seed,
    )
    write_json(info["planted"], snakemake.output.planted)
    log.info(
        "simulated NSD study in %s: %s voxels per ROI",
        snakemake.output.root,
        info["planted"]["voxels_per_roi"],
    )
