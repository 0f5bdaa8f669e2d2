"""The study's figures: accuracy vs blur, accuracy drop, RSMs, similarity, the question,
confusion matrices and a blur example grid."""

import json
from pathlib import Path

from brainalign.io import read_npz, read_table
from brainalign.maps.figures import save_figure
from brainalign.pipeline.provenance import rule_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.decoding_robustness import figures as F

with rule_context(snakemake) as log:
    p = snakemake.params
    inp = snakemake.input
    prov = rule_provenance(snakemake.config, [inp.accuracy, inp.similarity])
    accuracy, drops = read_table(inp.accuracy), read_table(inp.drop)
    similarity, question = read_table(inp.similarity), read_table(inp.question)
    rsms = read_npz(inp.rsms)
    labels_sorted = rsms.pop("labels_sorted")
    classes = json.loads(Path(inp.record).read_text())["class_names"]
    first = {k: v for k, v in rsms.items() if k.endswith("__seed-all") or
             k.endswith(f"__seed-{min(accuracy['training_seed'])}")}  # fmt: skip
    ex = read_npz(inp.examples)
    examples = dict(zip(ex["levels"].tolist(), ex["images"], strict=True))
    figs = {
        "accuracy_vs_blur": F.plot_accuracy_vs_blur(accuracy),
        "accuracy_drop": F.plot_accuracy_drop(drops),
        "rsm_items": F.plot_rsm_items(
            {k.split("__seed-")[0]: v for k, v in first.items()}, labels_sorted, classes
        ),
        "rsm_classes": F.plot_rsm_classes(read_table(inp.classes)),
        "similarity": F.plot_similarity(similarity, p.variant),
        "similarity_vs_robustness": F.plot_similarity_vs_robustness(
            similarity, drops, question, p.variant
        ),
        "confusion": F.plot_confusion(read_table(inp.confusion)),
        "blur_examples": F.plot_blur_examples(examples, f"{p.blur} blur"),
    }
    outdir = Path(snakemake.output[0]).parent
    for name, fig in figs.items():
        save_figure(fig, [outdir / f"{name}.{ext}" for ext in p.formats], prov)
    log.info("wrote %d figures x %d formats", len(figs), len(p.formats))
