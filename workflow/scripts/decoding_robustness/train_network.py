"""Train one CNN's head on its frozen backbone; test accuracy under every blur level and the
fc1 embedding of the (unblurred) test items."""

import pandas as pd

from brainalign.data.blur import blur_levels
from brainalign.data.kay2008 import load_kay
from brainalign.io import write_npz, write_table
from brainalign.networks.backbones import build_backbone
from brainalign.pipeline.provenance import rule_provenance, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.pipeline.seeds import derive_seed
from brainalign.studies.decoding_robustness.models import backbone_features
from brainalign.studies.decoding_robustness.names import (
    blur_mode_of,
    split_network,
    voxel_filter_of,
)
from brainalign.studies.decoding_robustness.tables import accuracy_rows
from brainalign.studies.decoding_robustness.training import (
    embed_items,
    predict,
    train_classifier,
)

with rule_context(snakemake) as log:
    p = snakemake.params
    network, seed = snakemake.wildcards.dr_network, int(snakemake.wildcards.dr_seed)
    data = load_kay(*snakemake.input.kay, voxel_filter=voxel_filter_of(p.voxel_filter))
    name, trained = split_network(network)
    backbone, out_dim = build_backbone(
        name, trained=trained, seed=derive_seed(p.seed, "backbone"), weights_path=p.weights
    )
    c = p.classifier
    model, history = train_classifier(
        data.images_train, data.labels_train, backbone=backbone, out_dim=out_dim, seed=p.seed,
        epochs=c["epochs"], batch_size=c["batch_size"], lr=c["lr"], augment=c["augment"],
        bn_mode=p.batchnorm, device=p.device,
    )  # fmt: skip

    def head_on(images):
        feats = backbone_features(model, images, batch_size=p.batch_size, device=p.device)
        return feats, predict(model, feats, from_features=True, device=p.device)[0]

    feats, _ = head_on(data.images_test)
    emb = embed_items(model, feats, from_features=True, device=p.device)
    mode = blur_mode_of(p.blur)
    preds, rows = {}, []
    for level, images in blur_levels(data.images_test, p.blur_levels, mode=mode,
                                     seed=p.blur_seed).items():  # fmt: skip
        preds[level] = head_on(images)[1]
        rows.append(pd.DataFrame({"network": network, "training_seed": seed, "blur_level": level,
                                  "item": data.index_test, "true": data.labels_test,
                                  "predicted": preds[level]}))  # fmt: skip
    acc = accuracy_rows(network, seed, p.blur, preds, data.labels_test, ci=p.ci)
    log.info("%s seed %d: accuracy by blur level %s", network, seed,
             dict(zip(acc["blur_level"], acc["accuracy"].round(3), strict=False)))  # fmt: skip
    prov = rule_provenance(snakemake.config, snakemake.input.kay, p.seed)
    write_npz(snakemake.output.embedding, embedding=emb, labels=data.labels_test,
              index=data.index_test)  # fmt: skip
    write_table(with_provenance(acc, prov), snakemake.output.accuracy)
    write_table(with_provenance(pd.concat(rows, ignore_index=True), prov),
                snakemake.output.predictions)  # fmt: skip
    history.insert(0, "training_seed", seed)
    history.insert(0, "network", network)
    write_table(with_provenance(history, prov), snakemake.output.history)
