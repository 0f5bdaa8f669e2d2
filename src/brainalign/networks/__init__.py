"""Networks: a torch-free registry of specs and layer names, architectures, weights,
activation extraction and device handling."""

from brainalign._lazy import lazy_api

_API = {
    "IMAGENET_MEAN": "activations",
    "IMAGENET_STD": "activations",
    "preprocess": "activations",
    "extract_activations": "activations",
    "NETWORKS": "architectures",
    "DeepClusterAlexNet": "architectures",
    "build_network": "architectures",
    "relu_modules": "architectures",
    "pick_device": "device",
    "deterministic_forward": "device",
    "LAYER_NAMES": "registry",
    "TRAININGS": "registry",
    "KNOWN_NETWORKS": "registry",
    "WEIGHTS": "registry",
    "WeightsInfo": "registry",
    "NetworkSpec": "registry",
    "parse_condition": "registry",
    "LAYERS": "taskonomy",
    "TASK_GROUPS": "taskonomy",
    "TASK_LIST": "taskonomy",
    "VISUALPRIORS_NAMES": "taskonomy",
    "TaskonomyEncoder": "taskonomy",
    "encoder_file_for_task": "taskonomy",
    "extract_features": "taskonomy",
    "feature_rdms": "taskonomy",
    "load_encoder": "taskonomy",
    "parse_encoder_filename": "taskonomy",
    "task_group": "taskonomy",
    "TORCHVISION_ALEXNET_FILE": "weights",
    "WeightsNotFoundError": "weights",
    "UnsafeCheckpointError": "weights",
    "CheckpointInfo": "weights",
    "hub_cache_path": "weights",
    "resolve_weights_path": "weights",
    "read_checkpoint": "weights",
    "strip_prefixes": "weights",
    "inspect_state_dict": "weights",
    "load_state_dict": "weights",
    "load_weights_into": "weights",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
