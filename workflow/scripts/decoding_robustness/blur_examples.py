"""One test image per class at every blur level (for the example grid)."""

import numpy as np

from brainalign.data.blur import blur_levels
from brainalign.data.kay2008 import load_kay
from brainalign.io import write_npz
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.decoding_robustness.names import blur_mode_of

with rule_context(snakemake) as log:
    p = snakemake.params
    data = load_kay(*snakemake.input)
    classes = np.unique(data.labels_test)
    pick = np.concatenate([np.flatnonzero(data.labels_test == c)[:1] for c in classes])
    examples = blur_levels(data.images_test[pick], p.blur_levels, mode=blur_mode_of(p.blur),
                           seed=p.blur_seed)  # fmt: skip
    write_npz(snakemake.output[0], levels=np.array(list(examples)),
              images=np.stack(list(examples.values())),
              classes=np.asarray(data.class_names)[data.labels_test[pick]])  # fmt: skip
    log.info("%d example images x %d blur levels", pick.size, len(examples))
