"""Load a dataset with its loader, validate it, and write the subject RDMs and its description.

The stimuli are written by prepare_stimuli (the networks depend on them alone)."""

import numpy as np

from brainalign.data.loaders import load_dataset
from brainalign.io.files import write_npz
from brainalign.pipeline.provenance import write_dataset_record
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    out = snakemake.output
    ds = load_dataset(p.kind, p.path, tuple(p.regions), p.name, **dict(p.options))
    log.info(
        "%s: %d images, %d subjects, regions %s", ds.name, ds.n_images, len(ds.subjects), ds.regions
    )
    record = write_dataset_record(
        out.info,
        ds.name,
        snakemake.input,
        n_images=ds.n_images,
        subjects=ds.subjects,
        regions=ds.regions,
        metadata=ds.metadata,
    )
    digest = record["dataset_sha256"]
    log.info("dataset sha256 %s over %d files", digest, len(record["files_sha256"]))
    write_npz(
        out.rdms,
        subjects=np.array(ds.subjects),
        dataset_sha256=np.array(digest),
        **{f"rdm_{region}": rdms for region, rdms in ds.rdms.items()},
    )
