"""Load the stimuli alone (no brain data) and write the array the networks see."""

import numpy as np

from brainalign.data.loaders import load_stimuli
from brainalign.io.files import write_npz
from brainalign.pipeline.provenance import hash_files
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    images, names, categories = load_stimuli(p.kind, p.path)
    digest, per_file = hash_files(snakemake.input)
    log.info("%d images; stimulus files sha256 %s over %d files", len(names), digest, len(per_file))
    write_npz(
        snakemake.output[0],
        images=images,
        image_names=np.array(names),
        categories=np.array(categories),
        # the digest of the stimulus files (activations and layer RDMs carry it)
        dataset_sha256=np.array(digest),
    )
