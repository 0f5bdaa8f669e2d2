"""Record the dataset (checksums of the prepared subjects) for the provenance table."""

from brainalign.pipeline.provenance import write_dataset_record
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    record = write_dataset_record(
        snakemake.output[0], p.name, snakemake.input, source=p.source, subjects=p.subjects
    )
    log.info("dataset %s: %s", p.name, record["dataset_sha256"])
