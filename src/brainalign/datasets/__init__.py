"""Dataset loaders: images in presentation order plus subject RDMs per region.

Register a loader in :data:`LOADERS` to add a dataset kind.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from brainalign.datasets.algonauts import load_algonauts2019
from brainalign.datasets.base import CATEGORY_BLOCKS_92, Dataset, validate_dataset

__all__ = ["Dataset", "CATEGORY_BLOCKS_92", "LOADERS", "load_dataset", "validate_dataset"]

#: Dataset kinds → loader ``(path, regions, name, **options) -> Dataset``.
LOADERS: dict[str, Callable[..., Dataset]] = {
    "algonauts2019": load_algonauts2019,
    # The embedded default is written in the Algonauts format and read by the same loader.
    "synthetic": load_algonauts2019,
}


def load_dataset(kind: str, path: str | os.PathLike, regions: tuple[str, ...], name: str,
                 **options) -> Dataset:
    """Load a dataset with the loader registered for ``kind``."""
    if kind not in LOADERS:
        raise ValueError(f"unknown dataset kind {kind!r}; known kinds: {sorted(LOADERS)}")
    return LOADERS[kind](path, regions=tuple(regions), name=name, **options)
