"""Layer profiles per region: all conditions (Figure 2 layout) and each comparison (Figure 1)."""

from brainalign.io.files import read_table
from brainalign.maps.figures import save_figure
from brainalign.pipeline.provenance import provenance_fields
from brainalign.pipeline.rulekit import rule_context
from brainalign.studies.truzzi2020.figures import plot_profile_panels

with rule_context(snakemake) as log:
    p = snakemake.params
    region = snakemake.wildcards.region
    table = read_table(snakemake.input.comparison)
    table = table[table["region"] == region]
    nc = read_table(snakemake.input.noise_ceiling)
    nc = nc[nc["region"] == region]
    posthoc = read_table(snakemake.input.posthoc)
    posthoc = posthoc[posthoc["region"] == region] if len(posthoc) else None
    prov = provenance_fields(
        snakemake.config,
        ";".join(sorted(set(table["dataset_sha256"]))),
    )
    if p.noise_ceiling == "computed":
        means = nc.groupby("bound")["value"].mean()
        ceiling = (float(means["lower"]), float(means["upper"]))
    else:
        ceiling = tuple(p.noise_ceiling)
    log.info("%s noise-ceiling band %s", region, ceiling)
    ylabel = {
        "tau_b": "Kendall tau-b",
        "tau_a": "Kendall tau-a",
        "spearman": "Spearman rho",
        "pearson": "Pearson r",
    }[p.method]
    networks = list(dict.fromkeys(c.rpartition("_")[0] for c in p.conditions))
    panels = [(net, [c for c in p.conditions if c.rpartition("_")[0] == net]) for net in networks]
    fig = plot_profile_panels(
        table, panels, ceiling, posthoc, ylabel, f"{region}: networks vs brain", p.context
    )
    save_figure(fig, snakemake.output.profiles, prov)
    if p.comparisons:
        panels = [(f"{a}\nvs {b}", [a, b]) for a, b in p.comparisons]
        fig = plot_profile_panels(
            table, panels, ceiling, posthoc, ylabel, f"{region}: condition comparisons", p.context
        )
        save_figure(fig, snakemake.output.comparisons, prov)
