"""Repeated-measures ANOVA and post-hoc tests for every configured pair of conditions."""

import pandas as pd

from brainalign.io.files import read_table, write_table
from brainalign.pipeline.provenance import provenance_fields, with_provenance
from brainalign.pipeline.rulekit import rule_context
from brainalign.stats.anova import posthoc_tests, rm_anova

with rule_context(snakemake) as log:
    p = snakemake.params
    table = read_table(snakemake.input[0])
    table["subject"] = table["subject"].astype(str)
    anovas, posthocs = [], []
    for region, sub in table.groupby("region", sort=True):
        for a, b in p.comparisons:
            label = f"{a} vs {b}"
            aov = rm_anova(sub, [a, b])
            ph = posthoc_tests(sub, [a, b], mode=p.mode, alpha=p.alpha)
            for frame in (aov, ph):
                frame.insert(0, "comparison", label)
                frame.insert(0, "region", region)
                frame.insert(0, "dataset", sub["dataset"].iloc[0])
            ph["mode"] = p.mode
            anovas.append(aov)
            posthocs.append(ph)
            log.info("%s %s: interaction F=%.3f", region, label, aov["F"].iloc[-1])
    anova_cols = [
        "dataset",
        "region",
        "comparison",
        "source",
        "ddof1",
        "ddof2",
        "F",
        "p",
        "p_gg",
        "eps",
        "ng2",
    ]
    post_cols = [
        "dataset",
        "region",
        "comparison",
        "test",
        "layer",
        "condition_a",
        "condition_b",
        "paired",
        "t",
        "dof",
        "p",
        "p_corrected",
        "correction",
        "significant",
        "mode",
    ]
    fields = provenance_fields(
        snakemake.config,
        ";".join(sorted(set(table["dataset_sha256"]))),
    )
    anova = pd.concat(anovas, ignore_index=True) if anovas else pd.DataFrame(columns=anova_cols)
    posthoc = (
        pd.concat(posthocs, ignore_index=True) if posthocs else pd.DataFrame(columns=post_cols)
    )
    write_table(with_provenance(anova, fields), snakemake.output.anova)
    write_table(with_provenance(posthoc, fields), snakemake.output.posthoc)
