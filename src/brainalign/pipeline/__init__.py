"""Workflow plumbing: config validation, seeds, provenance, rule helpers, run guard, downloads."""

from brainalign._lazy import lazy_api

_API = {
    "imported_modules": "fingerprint",
    "script_fingerprint": "fingerprint",
    "source_fingerprint": "fingerprint",
    "git_commit": "fingerprint",
    "ConfigError": "config",
    "validate_config": "config",
    "derive_seed": "config",
    "config_hash": "config",
    "SCHEMA_PATH": "config",
    "DEFAULT_REGISTRY": "registry",
    "DownloadError": "registry",
    "OfflineError": "registry",
    "ChecksumError": "registry",
    "UnsafeArchiveError": "registry",
    "Resource": "registry",
    "load_registry": "registry",
    "sha256sum": "download",
    "verify_file": "download",
    "fetch": "download",
    "safe_extract": "archives",
    "extract_resource": "archives",
    "is_offline": "download",
    "RuleHelper": "download",
    "PROVENANCE_COLUMNS": "provenance",
    "VERSIONED": "provenance",
    "versions": "provenance",
    "versions_string": "provenance",
    "hash_files": "provenance",
    "provenance_fields": "provenance",
    "with_provenance": "provenance",
    "rule_provenance": "provenance",
    "rule_context": "rulekit",
    "limit_threads": "rulekit",
    "Progress": "rulekit",
    "export_package_path": "rulekit",
    "RECORDS": "runguard",
    "clear_stale_lock": "runguard",
    "record_run": "runguard",
    "run_is_alive": "runguard",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy_api(__name__, _API)
