"""Record the 7 ReLU outputs of one network condition for every stimulus."""

import numpy as np

from brainalign.io.files import read_npz, write_npz
from brainalign.networks.activations import extract_activations, preprocess
from brainalign.networks.architectures import build_network
from brainalign.pipeline.rulekit import Progress, rule_context

with rule_context(snakemake) as log:
    import torch

    p = snakemake.params
    torch.set_num_threads(snakemake.threads)
    stimuli = read_npz(snakemake.input.stimuli)
    model = build_network(
        p.network, p.training, seed=p.seed, weights=p.weights or None, allow_unsafe_pickle=p.unsafe
    )
    acts = extract_activations(
        model,
        preprocess(stimuli["images"]),
        conv_pooling=p.conv_pooling,
        batch_size=p.batch_size,
        device=p.device,
        progress=Progress(log, "images"),
    )
    for name, a in acts.items():
        log.info("%s: %s", name, a.shape)
    write_npz(
        snakemake.output[0],
        layer_names=np.array(list(acts)),
        dataset_sha256=stimuli["dataset_sha256"],
        **acts,
    )
