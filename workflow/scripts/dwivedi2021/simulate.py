"""Write the embedded simulated volume study (planted labels next to the data)."""

from brainalign.data.volumes import SimulationConfig, write_study
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    sim = dict(snakemake.params.simulation)
    cfg = SimulationConfig(**sim, seed=snakemake.params.seed)
    paths = write_study(snakemake.output[0], cfg)
    log.info("wrote %d files to %s (seed %d)", len(paths), snakemake.output[0], cfg.seed)
