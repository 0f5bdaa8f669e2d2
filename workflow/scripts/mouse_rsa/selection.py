"""Select the experiments (areas x depths x cre line x stimuli) of the cache, as the SDK does,
and record the dataset (names and checksums of the small cache files; sizes of the big ones)."""

from pathlib import Path

from brainalign.data.allen import select_experiments
from brainalign.io import write_table
from brainalign.pipeline.provenance import write_dataset_record
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    sel = select_experiments(p.cache, p.areas, p.depths, p.cre_line, p.stimuli)
    for (area, depth, stim), g in sel.groupby(["area", "depth", "stimulus"]):
        log.info("%s %s um %s: %d experiments", area, depth, stim, len(g))
    write_table(sel, snakemake.output.experiments)
    cache = Path(p.cache)
    small = list(cache.glob("*.json"))
    sizes = {Path(f).name: Path(f).stat().st_size for f in sel["nwb"].unique()}
    write_dataset_record(snakemake.output.record, p.name,
                         sorted(small) + sorted(Path(f) for f in sel["events"]),
                         nwb_bytes=sizes)  # fmt: skip
