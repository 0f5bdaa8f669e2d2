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
    "temp_prefix": "files",
    "temp_files_of": "files",
    "is_temp_name": "files",
    "VERIFIED_FILES_ENV": "hashing",
    "FileCheckError": "hashing",
    "file_signature": "hashing",
    "sha256_file_cached": "hashing",
    "clear_digest_cache": "hashing",
    "mismatch": "hashing",
    "check_file": "hashing",
    "listed_files": "hashing",
    "list_file": "hashing",
    "check_listed_file": "hashing",
    "file_mode": "modes",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
