"""The study's tables: accuracy by blur level, accuracy drop, confusion matrices, training
histories, and the answer to its question (RSM similarity vs accuracy drop)."""

import json

import pandas as pd

from brainalign.io import read_table, write_table
from brainalign.pipeline.provenance import PROVENANCE_COLUMNS, rule_provenance, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.decoding_robustness.tables import (
    accuracy_drop,
    accuracy_rows,
    confusion_rows,
    robustness_question,
)


def _read(paths):
    frames = [read_table(f) for f in paths]
    out = pd.concat(frames, ignore_index=True)
    return out.drop(columns=[c for c in PROVENANCE_COLUMNS if c in out.columns])


with rule_context(snakemake) as log:
    p = snakemake.params
    inp = snakemake.input
    classes = json.loads(open(inp.record).read())["class_names"]
    networks = _read(inp.accuracy)
    drops = accuracy_drop(networks)
    decoder = _read(inp.decoder)
    accuracy = pd.concat(
        [accuracy_rows("decoder", seed, "none", {0: g["predicted"]}, g["true"], ci=p.ci)
         for seed, g in decoder.groupby("training_seed")] + [networks],
        ignore_index=True,
    )  # fmt: skip
    preds = pd.concat([decoder, _read(inp.predictions)], ignore_index=True)
    lowest = preds.groupby(["network", "training_seed"])["blur_level"].transform("min")
    confusion = pd.concat(
        [confusion_rows(net, seed, g["true"], g["predicted"], classes)
         for (net, seed), g in preds[preds["blur_level"] == lowest].groupby(
             ["network", "training_seed"], sort=False)],
        ignore_index=True,
    )  # fmt: skip
    for _, r in accuracy[accuracy["network"] == "decoder"].iterrows():
        log.info(
            "decoder seed %d: test accuracy %.3f [%.3f, %.3f], chance %.3f",
            r["training_seed"], r["accuracy"], r["ci_low"], r["ci_high"], r["chance"],
        )  # fmt: skip
    history = pd.concat([_read(inp.decoder_history), _read(inp.history)], ignore_index=True)
    similarity = read_table(inp.similarity)
    question = robustness_question(similarity, drops, variant=p.variant, ci=p.ci)
    log.info("similarity vs accuracy drop: %s", question.iloc[0].to_dict())
    prov = rule_provenance(snakemake.config, list(inp.accuracy) + list(inp.decoder))
    for frame, out in ((accuracy, snakemake.output.accuracy), (drops, snakemake.output.drop),
                       (confusion, snakemake.output.confusion),
                       (history, snakemake.output.history),
                       (question, snakemake.output.question)):  # fmt: skip
        write_table(with_provenance(frame, prov), out)
