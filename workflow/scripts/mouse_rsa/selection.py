"""Select the experiments (areas x depths x cre line x stimuli) of the cache, as the SDK does,
and record the dataset (names and checksums of the small cache files; sizes of the big ones)."""

import json
from pathlib import Path

from brainalign.data.allen import select_experiments
from brainalign.io import atomic_path, write_table
from brainalign.pipeline.provenance import hash_files
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    sel = select_experiments(p.cache, p.areas, p.depths, p.cre_line, p.stimuli)
    for (area, depth, stim), g in sel.groupby(["area", "depth", "stimulus"]):
        log.info("%s %s um %s: %d experiments", area, depth, stim, len(g))
    write_table(sel, snakemake.output.experiments)
    cache = Path(p.cache)
    small = list(cache.glob("*.json"))
    combined, per_file = hash_files(sorted(small) + sorted(Path(f) for f in sel["events"]))
    sizes = {Path(f).name: Path(f).stat().st_size for f in sel["nwb"].unique()}
    record = {"name": p.name, "dataset_sha256": combined, "files_sha256": per_file,
              "nwb_bytes": sizes}  # fmt: skip
    with atomic_path(snakemake.output.record) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
