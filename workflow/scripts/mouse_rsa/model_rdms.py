"""Layer RDMs of one model (and seed) for every stimulus, or of the pixel baseline: clips
through the network, activations averaged over time, 1 - Pearson per layer."""

import torch

from brainalign.io import read_npz, write_npz
from brainalign.networks.video import (
    build_video_model,
    normalise_clips,
    pixel_baseline,
    video_activations,
)
from brainalign.pipeline.rulekit import rule_context
from brainalign.pipeline.seeds import derive_seed
from brainalign.rsa.trials import correlation_rdms

with rule_context(snakemake) as log:
    p = snakemake.params
    clips = read_npz(snakemake.input[0])
    out = {}
    if p.model is None:  # the pixel baseline
        for stimulus in p.stimuli:
            x = torch.from_numpy(clips[stimulus])[:, None].expand(-1, 3, -1, -1, -1)
            out[f"{stimulus}__pixels"] = correlation_rdms(pixel_baseline(x)[None])[0]
    else:
        name, seed, trained, weights = p.model
        model, layers = build_video_model(name, seed=derive_seed(p.seed, "init"),
                                          trained=trained, weights_path=weights)  # fmt: skip
        norm = p.normalisation
        for stimulus in p.stimuli:
            x = torch.from_numpy(clips[stimulus])[:, None].expand(-1, 3, -1, -1, -1)
            acts = video_activations(model, layers, normalise_clips(x, norm["mean"], norm["std"]),
                                     device=p.device)  # fmt: skip
            for layer, a in acts.items():
                out[f"{stimulus}__{layer}"] = correlation_rdms(a[None])[0]
            log.info("%s seed %d, %s: %d layers", name, seed, stimulus, len(acts))
    write_npz(snakemake.output[0], **out)
