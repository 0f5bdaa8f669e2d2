"""File input/output with one contract: atomic writes, the tidy-table writer, npz and JSON;
file digests."""

from brainalign._lazy import lazy_api

_API = {
    "atomic_path": "files",
    "write_table": "files",
    "read_table": "files",
    "write_npz": "files",
    "read_npz": "files",
    "write_json": "files",
    "sha256_file": "hashing",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
