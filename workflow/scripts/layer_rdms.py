"""One RDM per recorded layer."""

import numpy as np

from brainalign.io.files import read_npz, write_npz
from brainalign.pipeline.rulekit import rule_context
from brainalign.rsa.rdm import compute_rdm

with rule_context(snakemake) as log:
    acts = read_npz(snakemake.input[0])
    layers = [str(x) for x in acts["layer_names"]]
    rdms = []
    for name in layers:
        try:
            rdms.append(compute_rdm(acts[name], snakemake.params.metric))
        except ValueError as err:
            raise ValueError(f"layer {name}: {err}") from None
    log.info("computed %d RDMs of size %d", len(rdms), rdms[0].shape[0])
    write_npz(
        snakemake.output[0],
        rdms=np.stack(rdms),
        layer_names=np.array(layers),
        dataset_sha256=acts["dataset_sha256"],
    )
