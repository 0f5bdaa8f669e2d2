"""The planted brain-like reference: the simulation's latent of the kept test items."""

from pathlib import Path

from brainalign.data.kay2008 import load_kay
from brainalign.data.kay2008_simulate import planted_embedding
from brainalign.io import write_npz
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    data = load_kay(*snakemake.input.kay)
    emb = planted_embedding(Path(snakemake.input.latent).parent, data.index_test)
    write_npz(snakemake.output.embedding, embedding=emb.astype("float64"),
              labels=data.labels_test, index=data.index_test)  # fmt: skip
    log.info("reference embedding: %d items x %d", *emb.shape)
