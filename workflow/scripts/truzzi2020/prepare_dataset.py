"""Load a dataset with its loader, validate it, and write the subject RDMs and its description.

The stimuli are written by prepare_stimuli (the networks depend on them alone)."""

import numpy as np

from brainalign.data.loaders import load_dataset
from brainalign.io.files import write_json, write_npz
from brainalign.pipeline.provenance import hash_files
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    out = snakemake.output
    ds = load_dataset(p.kind, p.path, tuple(p.regions), p.name, **dict(p.options))
    log.info(
        "%s: %d images, %d subjects, regions %s", ds.name, ds.n_images, len(ds.subjects), ds.regions
    )
    digest, per_file = hash_files(snakemake.input)
    log.info("dataset sha256 %s over %d files", digest, len(per_file))
    stamp = np.array(digest)
    write_npz(
        out.rdms,
        subjects=np.array(ds.subjects),
        dataset_sha256=stamp,
        **{f"rdm_{region}": rdms for region, rdms in ds.rdms.items()},
    )
    write_json(
        {
            "name": ds.name,
            "n_images": ds.n_images,
            "subjects": ds.subjects,
            "regions": ds.regions,
            "dataset_sha256": digest,
            "files_sha256": per_file,
            "metadata": ds.metadata,
        },
        out.info,
    )
