"""Write the embedded Allen-format cache (manifest, experiment lists, NWB and event files at
the SDK's paths) and its planted truth."""

from pathlib import Path

from brainalign.data.allen_simulate import simulate_allen_cache
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    s = p.simulation
    info = simulate_allen_cache(
        snakemake.output.cache, areas=p.areas, depths=p.depths, cre_line=p.cre_line,
        n_cells_per_experiment=s["n_cells"], n_scene_trials=s["n_scene_trials"],
        planted_dir=Path(snakemake.output.planted).parent, seed=p.seed,
    )  # fmt: skip
    log.info("simulated cache in %s", snakemake.output.cache)
