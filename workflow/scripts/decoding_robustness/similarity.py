"""Cosine RSMs of every embedding (class-sorted test items) compared with the decoder's RSM of
the same training seed (the planted reference with every decoder seed)."""

import json
import re

import numpy as np
import pandas as pd

from brainalign.io import read_npz, write_npz, write_table
from brainalign.pipeline.provenance import rule_provenance, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.pipeline.seeds import derive_seed
from brainalign.studies.decoding_robustness.rsms import (
    class_mean_rows,
    rsm_of,
    similarity_rows,
)

_PATH = re.compile(r"/(decoder|networks/(?P<net>[^/]+))/(seed-(?P<seed>\d+)/)?embedding\.npz$")

with rule_context(snakemake) as log:
    p = snakemake.params
    cmp = p.comparison
    record = json.loads(open(snakemake.input.record).read())
    classes = record["class_names"]
    decoder, others, index = {}, [], None
    for path in snakemake.input.embeddings:
        m = _PATH.search(path)
        name = m.group("net") or "decoder"
        d = read_npz(path)
        if index is None:
            index = d["index"]
        elif not np.array_equal(index, d["index"]):
            raise ValueError(f"{path}: its test items differ from the decoder's")
        rsm, order, crsm = rsm_of(d["embedding"], d["labels"], len(classes))
        entry = (name, None if m.group("seed") is None else int(m.group("seed")), rsm, crsm)
        if name == "decoder":
            decoder[entry[1]] = entry
        else:
            others.append(entry)
        labels_sorted = d["labels"][order]
    sims, crows, rsms = [], [], {"labels_sorted": labels_sorted}
    for name, seed, rsm, crsm in list(decoder.values()) + others:
        seeds = [seed] if seed is not None else sorted(decoder)
        for s in seeds:
            if name != "decoder":
                sims.append(similarity_rows(
                    name, s, rsm, decoder[s][2], method=cmp["method"],
                    n_permutations=cmp["n_permutations"], n_bootstrap=cmp["n_bootstrap"],
                    ci=cmp["ci"], seed=derive_seed(p.seed, name, s),
                ))  # fmt: skip
            crows.append(class_mean_rows(name, s, crsm, classes))
        rsms[f"{name}__seed-{'all' if seed is None else seed}"] = rsm
    table = pd.concat(sims, ignore_index=True)
    for _, r in table[table["variant"] == "corrected"].iterrows():
        log.info("%s seed %d: %s %.3f (p %.4f)", r["network"], r["training_seed"],
                 r["statistic"], r["value"], r["p"])  # fmt: skip
    prov = rule_provenance(snakemake.config, snakemake.input.embeddings, p.seed)
    write_table(with_provenance(table, prov), snakemake.output.table)
    write_table(with_provenance(pd.concat(crows, ignore_index=True), prov),
                snakemake.output.classes)  # fmt: skip
    write_npz(snakemake.output.rsms, **rsms)
