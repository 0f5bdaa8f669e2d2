"""Half-trial brain RDMs and the all-trial RDM of every area x depth (one stimulus)."""

from brainalign.io import read_npz, write_npz
from brainalign.pipeline.rulekit import rule_context
from brainalign.pipeline.seeds import derive_seed
from brainalign.studies.mouse_rsa.analysis import brain_rdms

with rule_context(snakemake) as log:
    p = snakemake.params
    out = {}
    for key, x in read_npz(snakemake.input[0]).items():
        boot, full = brain_rdms(x, p.n_bootstrap, derive_seed(p.seed, key))
        out[f"{key}__boot"], out[f"{key}__full"] = boot, full
        log.info("%s: %d trials x %d conditions x %d cells -> %d RDMs", key, *x.shape, len(boot))
    write_npz(snakemake.output[0], **out)
