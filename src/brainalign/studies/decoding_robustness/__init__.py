"""Robustness vs brain similarity (decoding-thoughts on Kay et al. 2008).

An fMRI decoder and CNN classifiers (frozen backbone, trained head) on the same three classes;
accuracy under increasing blur; cosine RSMs of their 100-d embeddings compared with the
decoder's; the correlation of RSM similarity with the accuracy drop across networks.
"""

from brainalign._lazy import lazy_api

_API = {
    "STUDY": "names",
    "REFERENCE": "names",
    "complete_config": "design",
    "dataset_name": "names",
    "split_network": "names",
    "voxel_filter_of": "names",
    "blur_mode_of": "names",
    "FmriDecoder": "models",
    "HeadClassifier": "models",
    "preprocess_images": "models",
    "backbone_features": "models",
    "train_decoder": "training",
    "train_classifier": "training",
    "predict": "training",
    "embed_items": "training",
    "accuracy_rows": "tables",
    "accuracy_drop": "tables",
    "confusion_matrix": "tables",
    "confusion_rows": "tables",
    "robustness_question": "tables",
    "rsm_of": "rsms",
    "similarity_rows": "rsms",
    "class_mean_rows": "rsms",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
