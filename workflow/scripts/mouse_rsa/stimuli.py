"""The stimulus clips the models see (before normalisation): scene templates as static clips
and the movie in 60 clips of 15 frames, 64 x 64, one channel (the three are equal)."""

from brainalign.data.allen import read_template
from brainalign.io import read_table, write_npz
from brainalign.networks.video import clips_from_movie, clips_from_scenes
from brainalign.pipeline.rulekit import rule_context

with rule_context(snakemake) as log:
    sel = read_table(snakemake.input.experiments)
    out = {}
    for stimulus, g in sel.groupby("stimulus", sort=False):
        template = read_template(g["nwb"].iloc[0], stimulus)
        make = clips_from_scenes if stimulus == "natural_scenes" else clips_from_movie
        clips = make(template)
        out[stimulus] = clips[:, 0].numpy()
        log.info("%s: template %s -> clips %s", stimulus, template.shape, tuple(clips.shape))
    write_npz(snakemake.output[0], **out)
