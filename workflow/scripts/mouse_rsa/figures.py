"""Layer profiles per area x depth x stimulus, the combined grids and the brain RDMs."""

from pathlib import Path

from scipy.spatial.distance import squareform

from brainalign.io import read_npz, read_table
from brainalign.maps.figures import save_figure
from brainalign.pipeline.provenance import rule_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.mouse_rsa import figures as F

with rule_context(snakemake) as log:
    p = snakemake.params
    comparison = read_table(snakemake.input.comparison)
    ceilings = read_table(snakemake.input.ceilings)
    ceilings = ceilings[ceilings["variant"] == p.variant]
    prov = rule_provenance(snakemake.config, [snakemake.input.comparison])
    outdir = Path(snakemake.output[0]).parent

    def save(fig, stem):
        save_figure(fig, [outdir / f"{stem}.{ext}" for ext in p.formats], prov)

    for stimulus, brain_path in zip(p.stimuli, snakemake.input.brain, strict=True):
        c_stim = comparison[comparison["stimulus"] == stimulus]
        for area in p.areas:
            for depth in p.depths:
                sel = (c_stim["area"] == area) & (c_stim["depth"] == depth)
                cs = ceilings[(ceilings["area"] == area) & (ceilings["depth"] == depth)
                              & (ceilings["stimulus"] == stimulus)]["value"]  # fmt: skip
                save(F.plot_layer_profiles(c_stim[sel], cs, title=f"{area}, {depth} um, "
                                           f"{stimulus}", variant=p.variant),
                     f"layers_{area}_{depth}_{stimulus}")  # fmt: skip
        save(F.plot_grid(comparison, ceilings, stimulus, p.areas, p.depths), f"grid_{stimulus}")
        brain = read_npz(brain_path)
        rdms = {k.rsplit("__", 1)[0]: squareform(v) for k, v in brain.items()
                if k.endswith("__full")}  # fmt: skip
        save(F.plot_brain_rdms(rdms, f"{stimulus}: all-trial RDMs"), f"brain_rdms_{stimulus}")
    log.info("figures written to %s", outdir)
