"""The AlexNet-fwRF ridge baseline of one subject: AlexNet ReLU maps of the training trials,
per voxel the best Gaussian pRF and lambda on the holdout (himalaya), validation accuracy."""

from brainalign.io import read_npz, write_table
from brainalign.pipeline.provenance import rule_provenance, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.gnet_encoding.models import ridge_accuracy

with rule_context(snakemake) as log:
    p = snakemake.params
    subject = snakemake.wildcards.ge_subject
    prepared = read_npz(snakemake.input[0])
    accuracy, fit = ridge_accuracy(
        prepared, subject, p.ridge, holdout=p.holdout, weights=p.weights, seed=p.prefilter_seed
    )
    log.info(
        "%s: %d pRF candidates x %d lambdas, median validation r %.3f",
        subject,
        len(fit.prfs),
        len(p.ridge["lambdas"]),
        accuracy["r"].median(),
    )
    prov = rule_provenance(snakemake.config, snakemake.input)
    write_table(with_provenance(accuracy, prov), snakemake.output[0])
