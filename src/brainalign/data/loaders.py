"""Dataset loaders: images in presentation order plus subject RDMs per region.

Register a loader in :data:`LOADERS` to add a dataset kind.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from brainalign.data.algonauts import (
    algonauts_stimulus_sources,
    load_algonauts2019,
    load_algonauts2019_stimuli,
)
from brainalign.data.base import CATEGORY_BLOCKS_92, Dataset, validate_dataset
from brainalign.data.kriegeskorte import (
    kriegeskorte_sources,
    kriegeskorte_stimulus_sources,
    load_kriegeskorte2008,
    load_kriegeskorte2008_stimuli,
)
from brainalign.io.hashing import check_listed_file, listed_files

__all__ = [
    "Dataset",
    "CATEGORY_BLOCKS_92",
    "LOADERS",
    "REGIONS",
    "SOURCES",
    "STIMULI",
    "STIMULUS_SOURCES",
    "load_stimuli",
    "stimulus_files",
    "load_dataset",
    "source_files",
    "validate_dataset",
    "verify_sources",
]

#: Dataset kinds → loader ``(path, regions, name, **options) -> Dataset``.
LOADERS: dict[str, Callable[..., Dataset]] = {
    "algonauts2019": load_algonauts2019,
    # The embedded default is written in the Algonauts format and read by the same loader.
    "synthetic": load_algonauts2019,
    # The rsatoolbox copy of Kriegeskorte et al. 2008: the 92 images + human IT RDMs.
    "kriegeskorte2008": load_kriegeskorte2008,
}


def load_dataset(
    kind: str, path: str | os.PathLike, regions: tuple[str, ...], name: str, **options
) -> Dataset:
    """Load a dataset with the loader registered for ``kind``.

    Source files the workflow verified against the download registry when it started are
    re-checked first (:func:`verify_sources`).
    """
    if kind not in LOADERS:
        raise ValueError(f"unknown dataset kind {kind!r}; known kinds: {sorted(LOADERS)}")
    verify_sources(kind, path)
    return LOADERS[kind](path, regions=tuple(regions), name=name, **options)


def verify_sources(kind: str, path: str | os.PathLike) -> None:
    """Re-check the source files of ``kind`` in ``path`` that the workflow verified.

    The workflow checks the registry-listed files a study uses when it starts
    (:mod:`brainalign.pipeline.verified`) and lists them for its jobs; this re-checks those
    files (hashing one again only if it changed). Outside the workflow nothing is listed and
    nothing is checked.

    Raises
    ------
    brainalign.io.hashing.FileCheckError
        A listed file no longer matches its registry entry (names the file, both hashes and
        the URL to fetch it from).
    """
    if not listed_files() or not Path(path).is_dir():
        return
    for f in source_files(kind, path):
        if Path(f).is_file():
            check_listed_file(f)


def _algonauts_sources(path: str | os.PathLike) -> list[str]:
    from pathlib import Path

    p = Path(path)
    files = [p / "target_fmri.mat"]
    files += sorted(d for d in p.iterdir() if d.is_dir() and d.name.endswith("images"))
    return [str(f) for f in files]


#: Dataset kinds → function listing the files a loader reads (workflow inputs).
SOURCES: dict[str, Callable[[str | os.PathLike], list[str]]] = {
    "algonauts2019": _algonauts_sources,
    "synthetic": _algonauts_sources,
    "kriegeskorte2008": kriegeskorte_sources,
}


def source_files(kind: str, path: str | os.PathLike) -> list[str]:
    """The files the loader of ``kind`` reads from ``path`` (for workflow dependency tracking)."""
    if kind not in SOURCES:
        raise ValueError(f"unknown dataset kind {kind!r}; known kinds: {sorted(SOURCES)}")
    return SOURCES[kind](path)


#: Dataset kinds -> the regions whose subject RDMs the data set holds, spelled as the loader
#: expects them (checked when the config is read, so a misspelt region stops the run at once).
REGIONS: dict[str, tuple[str, ...]] = {
    "algonauts2019": ("EVC", "IT"),
    "synthetic": ("EVC", "IT"),
    "kriegeskorte2008": ("IT",),
}


#: Dataset kinds -> stimulus-only loader ``path -> (images, image_names, categories)``: the
#: network side of a study needs the images alone, so a change to the brain data (regions, a
#: new subject, simulated noise) does not rerun activation extraction.
STIMULI: dict[str, Callable[[str | os.PathLike], tuple[Any, list[str], list[str]]]] = {
    "algonauts2019": load_algonauts2019_stimuli,
    "synthetic": load_algonauts2019_stimuli,
    "kriegeskorte2008": load_kriegeskorte2008_stimuli,
}

#: Dataset kinds -> the files the stimulus-only loader reads.
STIMULUS_SOURCES: dict[str, Callable[[str | os.PathLike], list[str]]] = {
    "algonauts2019": algonauts_stimulus_sources,
    "synthetic": algonauts_stimulus_sources,
    "kriegeskorte2008": kriegeskorte_stimulus_sources,
}


def load_stimuli(kind: str, path: str | os.PathLike) -> tuple[Any, list[str], list[str]]:
    """The stimuli of a dataset alone: ``(images, image_names, categories)``.

    ``images`` has shape ``(n_images, H, W, 3)``, uint8, in presentation order (the order of
    the RDMs :func:`load_dataset` returns for the same folder).
    """
    if kind not in STIMULI:
        raise ValueError(f"unknown dataset kind {kind!r}; known kinds: {sorted(STIMULI)}")
    verify_sources(kind, path)
    return STIMULI[kind](path)


def stimulus_files(kind: str, path: str | os.PathLike) -> list[str]:
    """The files :func:`load_stimuli` reads from ``path`` (for workflow dependency tracking)."""
    if kind not in STIMULUS_SOURCES:
        raise ValueError(f"unknown dataset kind {kind!r}; known kinds: {sorted(STIMULUS_SOURCES)}")
    return STIMULUS_SOURCES[kind](path)
