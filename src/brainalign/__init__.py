"""brainalign: compare deep-network and brain representations, reproducibly.

The public API is curated here; see the submodules for details.
"""

__version__ = "0.1.0"
