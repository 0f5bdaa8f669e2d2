"""Generate the stimuli of the embedded synthetic study (Algonauts 2019 layout)."""

from pathlib import Path

from brainalign.data.synthetic import write_synthetic_stimuli
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    out_dir = Path(snakemake.output.stimuli).parent
    img_dir = write_synthetic_stimuli(out_dir, n_images=p.n_images, seed=p.seed)
    log.info("wrote %d images to %s", p.n_images, img_dir)
