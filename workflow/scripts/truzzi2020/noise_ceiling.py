"""Leave-one-subject-out noise ceiling of every region."""

import pandas as pd

from brainalign.io.files import read_npz, write_table
from brainalign.pipeline.provenance import provenance_fields, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.rsa.noise_ceiling import noise_ceiling

with rule_context(snakemake) as log:
    p = snakemake.params
    brain = read_npz(snakemake.input[0])
    subjects = [str(s) for s in brain["subjects"]]
    frames = []
    for region in p.regions:
        lower, upper = noise_ceiling(brain[f"rdm_{region}"], p.method)
        log.info("%s noise ceiling: lower %.4f, upper %.4f", region, lower.mean(), upper.mean())
        for bound, values in (("lower", lower), ("upper", upper)):
            frames.append(
                pd.DataFrame(
                    {
                        "dataset": p.dataset,
                        "region": region,
                        "subject": subjects,
                        "bound": bound,
                        "statistic": p.method,
                        "value": values,
                    }
                )
            )
    fields = provenance_fields(snakemake.config, str(brain["dataset_sha256"]))
    write_table(with_provenance(pd.concat(frames, ignore_index=True), fields), snakemake.output[0])
