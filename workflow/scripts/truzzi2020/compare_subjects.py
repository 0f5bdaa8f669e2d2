"""Mantel test of every layer RDM against every subject's RDM of one region."""

import pandas as pd

from brainalign.io.files import read_npz, write_table
from brainalign.pipeline.provenance import provenance_fields, with_provenance
from brainalign.pipeline.rulekit import Progress, rule_context
from brainalign.pipeline.seeds import derive_seed
from brainalign.rsa.mantel import mantel_many

with rule_context(snakemake) as log:
    p = snakemake.params
    wc = snakemake.wildcards
    model = read_npz(snakemake.input.model)
    brain = read_npz(snakemake.input.brain)
    subjects = [str(s) for s in brain["subjects"]]
    layers = [str(x) for x in model["layer_names"]]
    network, _, training = wc.condition.rpartition("_")
    progress = Progress(log, "layers")
    frames = []
    for li, (layer, rdm) in enumerate(zip(layers, model["rdms"], strict=True)):
        stat, pval = mantel_many(
            rdm,
            brain[f"rdm_{wc.region}"],
            method=p.method,
            permutations=p.permutations,
            alternative=p.alternative,
            seed=derive_seed(p.seed, layer),
            n_jobs=snakemake.threads,
        )
        frames.append(
            pd.DataFrame(
                {
                    "dataset": p.dataset,
                    "region": wc.region,
                    "condition": wc.condition,
                    "network": network,
                    "training": training,
                    "layer": layer,
                    "layer_index": li + 1,
                    "subject": subjects,
                    "statistic": p.method,
                    "value": stat,
                    "p": pval,
                    "n_permutations": p.permutations,
                    "alternative": p.alternative,
                }
            )
        )
        progress(li + 1, len(layers))
    fields = provenance_fields(
        snakemake.config,
        str(brain["dataset_sha256"]),
        rule_seed=p.seed,
    )
    write_table(with_provenance(pd.concat(frames, ignore_index=True), fields), snakemake.output[0])
