"""One key/value table with the provenance of the run, for the report."""

import json

import pandas as pd

from brainalign.io.files import write_table
from brainalign.pipeline.provenance import provenance_fields, versions
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    p = snakemake.params
    info = json.loads(open(snakemake.input[0]).read())
    fields = provenance_fields(snakemake.config, info["dataset_sha256"])
    rows = [
        ("config_hash", fields["config_hash"]),
        ("seed", fields["seed"]),
        ("dataset", info["name"]),
        ("dataset_sha256", info["dataset_sha256"]),
        ("code.source_sha256", p.source_sha256),
        ("code.workflow_sha256", p.workflow_sha256),
        ("code.git_commit", p.git_commit),
    ]
    rows += [(f"seed.network.{c}", s) for c, s in sorted(p.seeds.items())]
    rows += [(f"sha256.{f}", d) for f, d in sorted(info["files_sha256"].items())]
    rows += [(f"version.{k}", v) for k, v in versions().items()]
    write_table(pd.DataFrame(rows, columns=["key", "value"]), snakemake.output[0])
    log.info("wrote %d provenance fields", len(rows))
