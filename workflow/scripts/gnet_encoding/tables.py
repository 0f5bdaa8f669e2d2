"""The study's tables: per-voxel accuracy with noise ceilings, ROI summaries, GNet8j vs GNet8r,
the transfer matrix and asymmetry index, tuning, each ROI's layer assignment and the training
histories."""

import pandas as pd

from brainalign.io import read_npz, read_table, write_table
from brainalign.pipeline.provenance import rule_provenance, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.gnet_encoding import tables as T

with rule_context(snakemake) as log:
    inp, out, p = snakemake.input, snakemake.output, snakemake.params

    def read_all(paths):
        return pd.concat([read_table(f) for f in paths], ignore_index=True)

    prov = rule_provenance(snakemake.config, inp.prepared)

    def write(table, dest):
        write_table(with_provenance(table, prov), dest)
        log.info("%s: %d rows", dest, len(table))

    ncsnr = {s: read_npz(f)["ncsnr"] for s, f in zip(p.subjects, inp.prepared, strict=True)}
    accuracy = T.accuracy_table([read_table(f) for f in [*inp.accuracy, *inp.ridge]], ncsnr)
    write(accuracy, out.accuracy)
    write(T.summary_table(accuracy), out.summary)
    write(T.comparison_table(accuracy), out.comparison)
    tuning = read_table(inp.tuning)
    write(T.tuning_table(tuning, p.threshold), out.tuning)
    assignment = T.tuning_assignment_table(
        tuning, p.threshold, rois=p.rois, n_permutations=p.n_permutations, seed=p.seed
    )
    write(assignment, out.assignment)
    write(read_all([*inp.histories, *inp.transfer_histories]), out.history)
    if inp.transfer:
        matrix, alpha = T.transfer_tables(read_all(inp.transfer), accuracy, p.rois)
        write(matrix, out.transfer)
        write(alpha, out.asymmetry)
