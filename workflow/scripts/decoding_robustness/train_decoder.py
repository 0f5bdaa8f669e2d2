"""Train the fMRI decoder on the training items; its predictions and fc1 embedding of the test
items."""

import pandas as pd

from brainalign.data.kay2008 import load_kay
from brainalign.io import write_npz, write_table
from brainalign.pipeline.provenance import rule_provenance, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.decoding_robustness.names import voxel_filter_of
from brainalign.studies.decoding_robustness.training import embed_items, predict, train_decoder

with rule_context(snakemake) as log:
    p = snakemake.params
    seed = int(snakemake.wildcards.dr_seed)
    data = load_kay(*snakemake.input.kay, voxel_filter=voxel_filter_of(p.voxel_filter))
    d = p.decoder
    model, history = train_decoder(
        data.responses_train, data.labels_train, seed=p.seed, epochs=d["epochs"],
        batch_size=d["batch_size"], lr=d["lr"], device=p.device,
    )  # fmt: skip
    pred, _ = predict(model, data.responses_test, device=p.device)
    emb = embed_items(model, data.responses_test, device=p.device)
    log.info("decoder seed %d: test accuracy %.3f", seed, (pred == data.labels_test).mean())
    prov = rule_provenance(snakemake.config, snakemake.input.kay, p.seed)
    write_npz(snakemake.output.embedding, embedding=emb, labels=data.labels_test,
              index=data.index_test)  # fmt: skip
    preds = pd.DataFrame({
        "network": "decoder", "training_seed": seed, "blur_level": 0,
        "item": data.index_test, "true": data.labels_test, "predicted": pred,
    })  # fmt: skip
    write_table(with_provenance(preds, prov), snakemake.output.predictions)
    history.insert(0, "training_seed", seed)
    history.insert(0, "network", "decoder")
    write_table(with_provenance(history, prov), snakemake.output.history)
