# Brain-optimised encoding networks (St-Yves et al. 2022): GNet8j / GNet8r on single-trial NSD
# betas, the AlexNet-fwRF ridge baseline, the transfer matrix of frozen GNet8r encoders and the
# readout tuning analysis.
#
# Settings: config["gnet_encoding"] (workflow/schemas/gnet_encoding.schema.yaml), checked by
# brainalign.studies.gnet_encoding.complete_config in common.smk. Provenance from provenance.smk.
# DAG: generation (default) or pre-placed NSD files -> per-subject preparation -> GNet8j and one
# GNet8r per ROI -> transfer readouts per source ROI, tuning, ridge -> tables -> figures.
# Outputs: results/gnet_encoding/<dataset>/{data,prepared,models,accuracy,transfer,tuning,maps,
# tables,figures}.
from functools import lru_cache

from brainalign.studies.gnet_encoding import names as _gen
from brainalign.studies.gnet_encoding.design import nsd_sessions as _ge_sessions

GE = config["gnet_encoding"]
GE_OUT = f"results/gnet_encoding/{_gen.dataset_name(GE)}"
GE_SIM = GE["dataset"]["source"] == "simulated"
GE_ROOT = f"{GE_OUT}/data/nsd" if GE_SIM else GE["dataset"]["root"]
GE_SUBJECTS = [_gen.subject_tag(s) for s in _gen.subjects(GE)]
GE_MODELS = _gen.model_names(GE)
GE_TRANSFER = GE["transfer"]["enabled"]
GE_FORMATS = GE["figures"]["formats"]
# The prefilter's (and the ridge baseline's) AlexNet: trained weights, or None (seeded random).
GE_WEIGHTS = (
    config["networks"]["weights"].get("alexnet") if GE["prefilter"]["trained"] else None
)


def ge_seed(*labels):
    return derive_seed(config["seed"], "gnet_encoding", *labels)


@lru_cache(maxsize=None)  # the real data's sessions are globbed once per subject
def ge_sessions(tag):
    subject = _gen.subject_number(tag)
    if GE_SIM:
        return list(range(1, GE["dataset"]["simulation"]["n_sessions"] + 1))
    return _ge_sessions(GE_ROOT, subject, GE["dataset"]["sessions"])


def ge_roi_reference(tag):
    """The subject's prf-visualrois volume: the grid of its feature-layer map."""
    from brainalign.data.nsd import nsd_paths

    return str(nsd_paths(GE_ROOT, _gen.subject_number(tag))["prf_visualrois"])


def ge_subject_files(wildcards):
    """The NSD files one subject's preparation reads (generated, or pre-placed)."""
    if GE_SIM:
        return [f"{GE_OUT}/data/planted.json"]
    from brainalign.data.nsd import FILES, nsd_paths

    subject = _gen.subject_number(wildcards.ge_subject)
    sessions = ge_sessions(wildcards.ge_subject)
    paths = nsd_paths(GE_ROOT, subject, sessions)
    roles = ["prf_visualrois", "kastner", "ncsnr"]
    roles += [f"betas_session{s:02d}" for s in sessions]
    shared = [f"{GE_ROOT}/{FILES['expdesign']}", f"{GE_ROOT}/{FILES['stimuli']}"]
    mask = GE["dataset"]["brainmask"]
    shared += [f"{GE_ROOT}/{mask.format(subject=subject)}"] if mask else []
    return shared + [str(paths[r]) for r in roles]


def ge_figures():
    stems = ["scatter_gnet8j_vs_gnet8r", "tuning_layerwise", "tuning_bipartite"]
    stems += ["tuning_preferred"]
    stems += ["accuracy_vs_ceiling", "training_curves"]
    if GE_TRANSFER:
        stems += ["transfer_all"] + [f"transfer_{s}" for s in GE_SUBJECTS]
    return [p for stem in stems for p in figure_paths(GE_OUT, stem, GE_FORMATS)]


def ge_tables():
    names = ["accuracy", "accuracy_summary", "model_comparison", "tuning"]
    names += ["training_history", "provenance"]
    if GE_TRANSFER:
        names += ["transfer", "asymmetry"]
    return [f"{GE_OUT}/tables/{t}.csv" for t in names]


TARGETS += ge_tables()
TARGETS += ge_figures()


wildcard_constraints:
    ge_subject="|".join(GE_SUBJECTS),
    ge_model="|".join(GE_MODELS),
    ge_source="|".join(GE["rois"]),


include: "data.smk"
include: "models.smk"
include: "analysis.smk"
