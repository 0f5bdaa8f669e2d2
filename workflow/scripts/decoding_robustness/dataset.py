"""Read the Kay-format files through the real loader: the record and the kept items."""

import numpy as np
import pandas as pd

from brainalign.data.kay2008 import load_kay
from brainalign.io import write_table
from brainalign.pipeline.provenance import rule_provenance, with_provenance, write_dataset_record
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.decoding_robustness.names import voxel_filter_of

with rule_context(snakemake) as log:
    p = snakemake.params
    files = list(snakemake.input)
    data = load_kay(*files, voxel_filter=voxel_filter_of(p.voxel_filter))
    rows = []
    for split, idx, lab, wn in (
        ("train", data.index_train, data.labels_train, data.wordnet_train),
        ("test", data.index_test, data.labels_test, data.wordnet_test),
    ):
        rows.append(pd.DataFrame({
            "split": split, "item": idx, "class_id": lab,
            "class": np.asarray(data.class_names)[lab], "label": wn[:, 3],
        }))  # fmt: skip
    items = pd.concat(rows, ignore_index=True)
    for split, g in items.groupby("split"):
        log.info("%s: %d items %s", split, len(g), g["class"].value_counts().to_dict())
    log.info("%d voxels kept (%s filter)", data.n_voxels, data.voxel_filter)
    write_table(with_provenance(items, rule_provenance(snakemake.config, files)),
                snakemake.output.item_table)  # fmt: skip
    write_dataset_record(snakemake.output.record, p.name, files, n_train=int(data.n_train),
                         n_test=int(data.n_test), n_voxels=int(data.n_voxels),
                         voxel_filter=data.voxel_filter,
                         class_names=list(data.class_names))  # fmt: skip
