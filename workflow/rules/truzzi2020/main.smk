# Network vs IT (Truzzi & Cusack 2020): layer RDMs of AlexNet variants against subject RDMs with
# per-subject Mantel tests, noise ceilings, condition x layer ANOVAs, post-hoc tests, figures.
#
# Settings: config["truzzi2020"] (workflow/schemas/truzzi2020.schema.yaml), completed and checked
# by brainalign.studies.truzzi2020.complete_config in common.smk. Activations and layer RDMs
# come from the shared rules (activations.smk), provenance from provenance.smk.
# Outputs: results/truzzi2020/<dataset>/{data,dataset,training,activations,rdms,comparison,tables,
# figures}.

TZ = config["truzzi2020"]
TZ_DS = TZ["dataset"]["name"]
TZ_OUT = f"results/truzzi2020/{TZ_DS}"
TZ_CONDITIONS = TZ["conditions"]
TZ_REGIONS = TZ["dataset"]["regions"]
TZ_COMPARISONS = [f"{a}__vs__{b}" for a, b in TZ["statistics"]["comparisons"]]
TZ_FORMATS = TZ["figures"]["formats"]
TZ_SYNTH_N = TZ["dataset"]["synthetic"]["n_images"]
TZ_SYNTH_SET = f"{TZ_SYNTH_N}_Image_Set"


def tz_dataset_path():
    """Folder the loader reads: the generated set for 'synthetic', else dataset.path."""
    if TZ["dataset"]["kind"] == "synthetic":
        return f"{TZ_OUT}/data/{TZ_SYNTH_SET}"
    return TZ["dataset"]["path"]


def tz_dataset_inputs(wildcards):
    """Files the dataset loader reads (so a change to them reruns the brain side)."""
    if TZ["dataset"]["kind"] == "synthetic":
        return [*rules.simulate_stimuli.output, *rules.simulate_dataset.output]
    from brainalign.data.loaders import source_files

    return source_files(TZ["dataset"]["kind"], TZ["dataset"]["path"])


def tz_stimulus_inputs(wildcards):
    """Files the stimulus loader reads (so only a change to them reruns the networks)."""
    if TZ["dataset"]["kind"] == "synthetic":
        return rules.simulate_stimuli.output
    from brainalign.data.loaders import stimulus_files

    return stimulus_files(TZ["dataset"]["kind"], TZ["dataset"]["path"])


def tz_targets():
    targets = [
        f"{TZ_OUT}/tables/{name}.csv"
        for name in ("comparison", "noise_ceiling", "anova", "posthoc", "provenance")
    ]
    for region in TZ_REGIONS:
        targets += figure_paths(TZ_OUT, f"profiles_{region}", TZ_FORMATS)
        if TZ_COMPARISONS:
            targets += figure_paths(TZ_OUT, f"comparisons_{region}", TZ_FORMATS)
        targets += figure_paths(TZ_OUT, f"brain_rdm_{region}", TZ_FORMATS)
    for condition in TZ_CONDITIONS:
        targets += figure_paths(TZ_OUT, f"layer_rdms_{condition}", TZ_FORMATS)
    return targets


TARGETS += tz_targets()


wildcard_constraints:
    region="|".join(TZ_REGIONS),
    ext="|".join(TZ_FORMATS),


include: "data.smk"
include: "training.smk"
include: "comparison.smk"
include: "statistics.smk"
include: "figures.smk"
