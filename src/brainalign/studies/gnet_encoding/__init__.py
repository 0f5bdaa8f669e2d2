"""Brain-optimised encoding networks (St-Yves et al. 2022): GNet8j / GNet8r on NSD-format data,
the AlexNet-fwRF ridge baseline, the transfer matrix of frozen encoders and readout tuning."""

from brainalign._lazy import lazy_api

_API = {
    "STUDY": "names",
    "dataset_name": "names",
    "model_names": "names",
    "complete_config": "design",
    "prepare_subject": "data",
    "train_model": "models",
    "transfer_readouts": "models",
    "ridge_accuracy": "models",
    "tuning_voxels": "models",
    "transfer_matrix": "transfer",
    "asymmetry_index": "transfer",
    "layer_groups": "tuning",
    "tuning_accuracy": "tuning",
    "variance_partition_tuning": "tuning",
    "fit_fwrf_ridge": "ridge_baseline",
    "predict_fwrf_ridge": "ridge_baseline",
    "accuracy_table": "tables",
    "transfer_tables": "tables",
    "tuning_table": "tables",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
