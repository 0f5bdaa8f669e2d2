# Mouse RSA on the Allen Brain Observatory (Crijnen 2024): pseudo-population RDMs per area x
# depth x stimulus from L0 events, split-half noise ceilings, tau-a against network layers.
#
# Settings: config["mouse_rsa"] (workflow/schemas/mouse_rsa.schema.yaml), checked by
# brainalign.studies.mouse_rsa.complete_config in common.smk. Provenance from provenance.smk.
# DAG: generation (default) or AllenSDK download -> selection -> responses -> brain RDMs ->
# ceilings -> model RDMs -> comparisons -> tables -> figures.
# Outputs: results/mouse_rsa/<dataset>/{data,dataset,responses,rdms,ceilings,comparison,tables,figures}.
from brainalign.studies.mouse_rsa import names as _mrn

MR = config["mouse_rsa"]
MR_OUT = f"results/mouse_rsa/{_mrn.dataset_name(MR)}"
MR_SIM = MR["dataset"]["source"] == "simulated"
MR_RUNS = _mrn.model_runs(MR)
MR_STIMULI = list(MR["stimuli"])
MR_FORMATS = MR["figures"]["formats"]
MR_COMBOS = _mrn.combos(MR)
MR_CACHE = f"{MR_OUT}/data/allen_cache" if MR_SIM else MR["dataset"]["cache_dir"]


def mr_seed(*labels):
    return derive_seed(config["seed"], "mouse_rsa", *labels)


def mr_model_of(run):
    name, _, seed = run.rpartition("_seed-")
    spec = next(m for m in MR["models"] if m["name"] == name)
    weights = (
        spec["weights"][spec["seeds"].index(int(seed))] if spec["trained"] else None
    )
    return name, int(seed), spec["trained"], weights


def mr_figures():
    out = []
    for s in MR_STIMULI:
        out += figure_paths(MR_OUT, f"grid_{s}", MR_FORMATS)
        out += figure_paths(MR_OUT, f"brain_rdms_{s}", MR_FORMATS)
        for a, d in MR_COMBOS:
            out += figure_paths(MR_OUT, f"layers_{a}_{d}_{s}", MR_FORMATS)
    return out


TARGETS += [
    f"{MR_OUT}/tables/{t}.csv"
    for t in (
        "comparison",
        "noise_ceiling",
        "family_differences",
        "cells",
        "provenance",
    )
]
TARGETS += mr_figures()


wildcard_constraints:
    mr_stimulus="|".join(MR_STIMULI),
    mr_run="|".join(MR_RUNS + [_mrn.PIXEL]),


include: "data.smk"
include: "brain.smk"
include: "models.smk"
include: "analysis.smk"
