"""Seeds and hashes: every random draw derives its seed from the config's base seed."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["derive_seed", "config_hash"]


def derive_seed(base: int, *keys: Any) -> int:
    """A stable 32-bit seed for one purpose, derived from the config's base seed.

    ``derive_seed(2020, "network", "alexnet")`` is the same on every machine and Python run
    (no use of Python's randomised ``hash``); different keys give independent streams.
    """
    entropy = [int(base)] + [zlib.crc32(str(k).encode()) for k in keys]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 (first 16 hex digits) of the config serialised canonically."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
