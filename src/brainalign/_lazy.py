"""Lazy public faces for packages: names load from their private module on first use.

``import brainalign.rsa`` stays cheap (no numba, torch or matplotlib) until a name is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_api(
    package: str, api: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` exporting ``api`` (name -> module).

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    api : mapping
        Public name -> module path relative to ``package`` (e.g. ``"mantel"``).
    """
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        if name in api:
            value = getattr(importlib.import_module(f"{package}.{api[name]}"), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(api))

    return __getattr__, __dir__
