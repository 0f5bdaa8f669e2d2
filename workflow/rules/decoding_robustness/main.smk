# Robustness vs brain similarity (decoding-thoughts on Kay et al. 2008): an fMRI decoder and CNN
# classifiers (frozen backbone, trained head) on three image classes; accuracy under increasing
# blur; cosine RSMs of the 100-d embeddings of the test items compared with the decoder's.
#
# Settings: config["decoding_robustness"] (workflow/schemas/decoding_robustness.schema.yaml),
# checked by brainalign.studies.decoding_robustness.complete_config in common.smk. Provenance
# from the shared provenance.smk (dataset/dataset.json).
# Outputs: results/decoding_robustness/<dataset>/{data,dataset,decoder,networks,tables,figures}.
from brainalign.studies.decoding_robustness import names as _drd

DR = config["decoding_robustness"]
DR_OUT = f"results/decoding_robustness/{_drd.dataset_name(DR)}"
DR_SIMULATED = DR["dataset"]["source"] == "simulated"
DR_NETWORKS = list(DR["networks"])
DR_SEEDS = [str(s) for s in DR["seeds"]]
DR_FORMATS = DR["figures"]["formats"]
DR_REFERENCE = DR_SIMULATED and DR["planted_reference"]
DR_FIGURES = (
    "accuracy_vs_blur",
    "accuracy_drop",
    "rsm_items",
    "rsm_classes",
    "similarity",
    "similarity_vs_robustness",
    "confusion",
    "blur_examples",
)


def dr_kay_files():
    """The three Kay-format files: simulated, in dataset.data_dir, or the registry's."""
    names = ("kay_images.npz", "kay_labels.npy", "kay_labels_val.npy")
    if DR_SIMULATED:
        return [f"{DR_OUT}/data/{n}" for n in names]
    if DR["dataset"]["data_dir"]:
        return [os.path.join(DR["dataset"]["data_dir"], n) for n in names]
    return [
        registry_path(r)
        for r in ("kay2008_images", "kay2008_labels", "kay2008_labels_val")
    ]


def dr_seed(*labels):
    return derive_seed(config["seed"], "decoding_robustness", *labels)


def dr_embeddings(wildcards=None):
    """Every embedding the similarity rule compares (the decoder's first)."""
    files = [f"{DR_OUT}/decoder/seed-{s}/embedding.npz" for s in DR_SEEDS]
    files += [
        f"{DR_OUT}/networks/{n}/seed-{s}/embedding.npz"
        for n in DR_NETWORKS
        for s in DR_SEEDS
    ]
    if DR_REFERENCE:
        files.append(f"{DR_OUT}/networks/{_drd.REFERENCE}/embedding.npz")
    return files


TARGETS += [
    f"{DR_OUT}/tables/{t}.csv"
    for t in (
        "accuracy",
        "accuracy_drop",
        "confusion",
        "training_history",
        "similarity",
        "class_rsm",
        "robustness_vs_similarity",
        "provenance",
    )
]
TARGETS += [p for f in DR_FIGURES for p in figure_paths(DR_OUT, f, DR_FORMATS)]


wildcard_constraints:
    dr_network="|".join(DR_NETWORKS),
    dr_seed="|".join(DR_SEEDS),


include: "data.smk"
include: "training.smk"
include: "analysis.smk"
