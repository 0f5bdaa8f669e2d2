"""Configuration: how config files compose, JSON-schema validation with defaults, shared checks.

One contract for every study (``workflow/schemas/config.schema.yaml``): shared keys at the top
(``seed``, ``networks``, ``rdm``, ``download``) and one block per study, named by its id. A study
runs when its block is present and ``enabled`` is not false.

How files compose (:func:`compose_config`), so that a ``--configfile`` does what its writer
means:

* the workflow's ``config.yaml`` is the base;
* an overlay (``--configfile``) that names a study block **replaces that block whole** (keys it
  leaves out get the study schema's defaults, never the base's values) and **runs only the
  studies the overlays name**;
* an overlay that names no study block changes shared keys only (dicts merge, other values
  replace) and keeps the base's studies; a block holding ``enabled: false`` only switches that
  study off;
* ``--config key=value`` settings merge last, into whatever is there.
"""

from __future__ import annotations

import copy
import difflib
import logging
import math
import os
import sys
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from brainalign.networks.registry import KNOWN_NETWORKS, TRAININGS
from brainalign.pipeline.seeds import config_hash, derive_seed

__all__ = [
    "STUDIES",
    "ConfigError",
    "SCHEMA_PATH",
    "compose_config",
    "config_hash",
    "derive_seed",
    "enabled_studies",
    "fill_defaults",
    "load_config_file",
    "check_networks",
    "check_download_urls",
    "significance_floor",
    "validate_config",
    "warn_config",
]

#: The main schema shipped with the workflow.
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"

#: Study ids, in the order the workflow includes them (each has a block in the schema, a package
#: ``brainalign.studies.<id>`` and a rule folder ``workflow/rules/<id>/``).
STUDIES = ("truzzi2020", "dwivedi2021", "decoding_robustness", "mouse_rsa", "gnet_encoding")


#: Logger of config-time warnings; with no handler configured (as under Snakemake) Python's
#: last-resort handler prints each warning as one line on stderr, i.e. on the console.
LOGGER = logging.getLogger("brainalign.config")


class ConfigError(ValueError):
    """An invalid configuration value; the message names the key."""


def warn_config(message: str) -> None:
    """Report a config value that is valid but cannot give what the user likely wants.

    Parameters
    ----------
    message : str
        One line naming the key (``config key '...': ...``); logged at WARNING level with the
        prefix ``Warning:``.
    """
    LOGGER.warning("Warning: %s", message)


def load_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML config file; an empty file is ``{}``.

    Raises
    ------
    ConfigError
        Naming the file (and line) when it is not YAML or not a mapping.
    """
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        context = getattr(err, "context", None)
        cmark = getattr(err, "context_mark", None)
        if context and cmark is not None:
            problem += f" ({context} started at line {cmark.line + 1})"
        raise ConfigError(
            f"config file {str(path)!r}{where}: not valid YAML: {problem}; check the indentation "
            "(spaces only, no tabs) and the ':' after each key"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r}: must hold a mapping of keys, not {data!r}")
    return data


def _merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    """Deep-merge ``new`` into ``into`` (dicts merge, other values replace), as Snakemake does."""
    for key, val in new.items():
        if isinstance(val, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], val)
        else:
            into[key] = copy.deepcopy(val)


def compose_config(
    base: Mapping[str, Any],
    overlays: Sequence[tuple[str, Mapping[str, Any]]] = (),
    settings: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The configuration the user means, from the base config, overlays and ``--config``.

    Parameters
    ----------
    base : mapping
        The workflow's ``config.yaml``.
    overlays : sequence of (name, mapping)
        ``--configfile`` files in order, with their names (for messages).
    settings : mapping, optional
        ``--config key=value`` settings.

    Returns
    -------
    config : dict
        Not yet validated.
    origin : dict
        Study id -> the file its block came from.
    """
    cfg = copy.deepcopy(dict(base))
    origin = {s: "config.yaml" for s in STUDIES if s in cfg}
    if any(_runs(ov.get(s, False)) for _, ov in overlays for s in STUDIES):
        for s in STUDIES:
            cfg.pop(s, None)
        origin = {}
    for name, overlay in overlays:
        for key, val in overlay.items():
            block = {} if key in STUDIES and val is None else val
            if key in STUDIES and key not in cfg:
                cfg[key] = copy.deepcopy(block)
                origin[key] = name
            else:
                _merge(cfg, {key: block})
    _merge(cfg, settings or {})
    return cfg, origin


def _runs(block: Any) -> bool:
    """Whether an overlay's study block asks for the study to run (``enabled: false`` only
    switches a study off and keeps the others)."""
    if block is None:
        return True
    return isinstance(block, Mapping) and block.get("enabled", True) is not False


def enabled_studies(cfg: Mapping[str, Any]) -> list[str]:
    """Ids of the studies that run: block present and ``enabled`` not false."""
    return [s for s in STUDIES if isinstance(cfg.get(s), Mapping) and cfg[s].get("enabled", True)]


def _load_schema(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    schema = yaml.safe_load(path.read_text())
    return _resolve_refs(schema, path.parent)


def _resolve_refs(node: Any, base: Path) -> Any:
    """Inline ``$ref``s to sibling schema files (``{"$ref": "other.schema.yaml"}``)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            sub = yaml.safe_load((base / ref).read_text())
            sub.pop("$schema", None)
            if "description" in node:
                sub["description"] = node["description"]
            return _resolve_refs(sub, base)
        return {k: _resolve_refs(v, base) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_refs(v, base) for v in node]
    return node


def fill_defaults(instance: Any, schema: Mapping[str, Any]) -> Any:
    """Fill JSON-schema ``default`` values into ``instance`` in place.

    Walks ``properties`` and object-valued ``additionalProperties`` (e.g. the named studies of
    the functional-maps block).
    """
    if not isinstance(instance, dict):
        return instance
    props = schema.get("properties", {})
    for key, sub in props.items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            fill_defaults(instance[key], sub)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, val in instance.items():
            if key not in props:
                fill_defaults(val, extra)
    return instance


def _where(path: Any) -> str:
    parts = [str(p) if not isinstance(p, int) else f"[{p}]" for p in path]
    return ".".join(parts).replace(".[", "[") or "<top level>"


def validate_config(
    config: Mapping[str, Any], schema_path: str | os.PathLike = SCHEMA_PATH
) -> dict[str, Any]:
    """Validate ``config`` against the JSON schema (draft 2020-12) and fill in defaults.

    Study blocks given as ``null`` count as present (``{}``). Beyond the schema: a float in an
    integer key is refused even when integral (JSON Schema accepts ``200.0`` as an integer), and
    ``download.urls`` names must be registry entries (:func:`check_download_urls`).

    Parameters
    ----------
    config : mapping
    schema_path : path-like

    Returns
    -------
    dict
        A deep copy with defaults filled in.

    Raises
    ------
    ConfigError
        One message naming the offending key and value, e.g.
        ``config key 'truzzi2020.comparison.permutations': 0 is less than the minimum of 1`` or
        ``config key 'truzzi2020.comparison.permutations': 200.0 is a float; write 200 ...``.
    """
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    schema = _load_schema(schema_path)
    cfg = copy.deepcopy(dict(config))
    for s in STUDIES:
        if s in cfg and cfg[s] is None:
            cfg[s] = {}
    fill_defaults(cfg, schema)
    validator = Draft202012Validator(schema)
    error = best_match(validator.iter_errors(cfg))
    if error is not None:
        path = list(error.absolute_path)
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            key = _where(path + extra[:1])
            raise ConfigError(
                f"config key {key!r} is not a known setting (allowed under "
                f"{_where(path)!r}: {sorted(error.schema.get('properties', {}))})"
            )
        raise ConfigError(f"config key {_where(path)!r}: {error.message}")
    for path, value in _integral_floats(cfg, schema, []):
        raise ConfigError(
            f"config key {_where(path)!r}: {value!r} is a float; write {int(value)} (an integer, "
            "without '.0' or an exponent)"
        )
    check_download_urls(cfg)
    return cfg


def _types(schema: Mapping[str, Any]) -> set[str]:
    t = schema.get("type")
    return {t} if isinstance(t, str) else set(t or ())


def _integral_floats(value: Any, schema: Any, path: list) -> Iterator[tuple[list, float]]:
    """``(path, value)`` of every float where the schema allows integers only.

    JSON Schema counts ``200.0`` as an integer, so ``permutations: 2.0e+2`` validates; Python
    code then fails on ``range(200.0)``. Walks ``properties``, ``additionalProperties``,
    ``items`` and the branches of ``allOf``/``anyOf``/``oneOf`` (a branch that allows any number
    accepts the float).
    """
    if not isinstance(schema, Mapping):
        return
    types = _types(schema)
    if isinstance(value, float) and "integer" in types and "number" not in types:
        yield path, value
    for key in ("allOf", "anyOf", "oneOf"):
        branches = schema.get(key, [])
        if key != "allOf" and isinstance(value, float):
            if any("number" in _types(b) for b in branches):
                continue
        for branch in branches:
            yield from _integral_floats(value, branch, path)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, val in value.items():
            sub = props[key] if key in props else extra
            yield from _integral_floats(val, sub, [*path, key])
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, val in enumerate(value):
            yield from _integral_floats(val, schema["items"], [*path, i])


def check_download_urls(cfg: Mapping[str, Any]) -> None:
    """Every ``download.urls`` name must be an entry of the download registry.

    Parameters
    ----------
    cfg : mapping
        Validated config.

    Raises
    ------
    ConfigError
        Naming the key, the closest registry name and every known name.
    """
    from brainalign.pipeline.registry import DEFAULT_REGISTRY, load_registry

    download = cfg.get("download") or {}
    urls = download.get("urls") or {}
    if not urls:
        return
    source = download.get("registry") or DEFAULT_REGISTRY
    try:
        known = list(load_registry(source))
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"config key 'download.registry': cannot read {str(source)!r}: {err}"
        ) from None
    for name in urls:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"write {close[0]!r}; " if close else ""
            raise ConfigError(
                f"config key 'download.urls.{name}': {name!r} is not a file of the download "
                f"registry ({Path(source).name}); {hint}known names: {known}"
            )


def significance_floor(n_permutations: int, alpha: float, n_tests: int = 1) -> str | None:
    """Why permutation p-values cannot, or can hardly, pass ``alpha``; None when they can.

    The smallest permutation p-value is ``p0 = 1 / (n_permutations + 1)``. With ``p0 > alpha``
    no test can be significant. After Benjamini-Hochberg over ``n_tests`` tests a test passes
    only if at least ``k`` tests have ``p <= k alpha / n_tests``; with ``p0 > alpha / n_tests``
    a test cannot pass on its own, only if at least ``ceil(n_tests p0 / alpha)`` tests reach
    ``p0``.

    Parameters
    ----------
    n_permutations : int
    alpha : float
    n_tests : int
        Tests in the FDR family (1: no correction).

    Returns
    -------
    str or None
        One sentence for a warning, or None.
    """
    n, m = int(n_permutations), max(1, int(n_tests))
    p0 = 1.0 / (n + 1)
    floor = f"with {n} permutations the smallest p-value is 1/{n + 1} = {p0:.3g}"
    if p0 > alpha:
        need = math.ceil(1.0 / alpha - 1.0 - 1e-9)
        return (
            f"{floor} > alpha = {alpha:g}, so no test can be significant; use at least {need} "
            "permutations"
        )
    if p0 > alpha / m:
        k = math.ceil(m * p0 / alpha - 1e-9)
        need = math.ceil(m / alpha - 1.0 - 1e-9)
        return (
            f"{floor} > alpha/m = {alpha:g}/{m} = {alpha / m:.3g}: after FDR over m = {m} tests "
            f"none is significant unless at least {k} of them reach that smallest p-value (expect "
            f"few or no significant results); use at least {need} permutations for one test to "
            "pass on its own"
        )
    return None


def check_networks(
    cfg: dict[str, Any],
    conditions: Sequence[str],
    where: str,
    trained_here: Collection[str] = (),
) -> None:
    """Shared network checks for the ``conditions`` the enabled studies use.

    Every condition names a known network; trained conditions have a weights file (resolved
    path written back into ``networks.weights``); ``allow_unsafe_pickle`` names known networks.
    The weights files and the study's dataset files that the download registry lists are
    verified against it (size, SHA-256; hashed once until they change) and listed for the jobs
    to re-check (:mod:`brainalign.pipeline.verified`).

    Parameters
    ----------
    cfg : dict
        Validated config (changed in place).
    conditions : sequence of str
    where : str
        Config key the conditions came from, for messages.
    trained_here : collection of str
        Networks whose trained weights the study's own rules write (no weights file needed).
    """
    for i, cond in enumerate(conditions):
        network, _, training = cond.rpartition("_")
        if training not in TRAININGS:
            raise ConfigError(
                f"config key '{where}[{i}]': condition {cond!r} must end in _trained or "
                "_untrained, e.g. 'alexnet_untrained'"
            )
        if network not in KNOWN_NETWORKS:
            raise ConfigError(
                f"config key '{where}[{i}]': unknown network {network!r} in condition "
                f"{cond!r}; known networks: {list(KNOWN_NETWORKS)}"
            )
    conditions = [c for c in conditions if c.rpartition("_")[0] not in trained_here]
    for cond in conditions:
        network, _, training = cond.rpartition("_")
        if training == "trained":
            from brainalign.networks.weights import WeightsNotFoundError, resolve_weights_path

            configured = cfg["networks"].get("weights", {}).get(network)
            try:
                resolved = resolve_weights_path(network, configured)
            except WeightsNotFoundError as err:
                raise ConfigError(f"config key 'networks.weights.{network}': {err}") from None
            cfg["networks"].setdefault("weights", {})[network] = str(resolved)
    for name in cfg["networks"].get("allow_unsafe_pickle", []):
        if name not in KNOWN_NETWORKS:
            raise ConfigError(
                f"config key 'networks.allow_unsafe_pickle': unknown network {name!r}"
            )
    from brainalign.pipeline.verified import check_used_files

    problems = check_used_files(cfg, conditions, where)
    if problems:
        more = f" ({len(problems) - 1} more: " if len(problems) > 1 else ""
        rest = "; ".join(f"config key '{k}': {m}" for k, m in problems[1:])
        raise ConfigError(
            f"config key '{problems[0][0]}': {problems[0][1]}{more}{rest}{')' if more else ''}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Check config files as the workflow composes them, without Snakemake.

    ``python -m brainalign.pipeline.config my.yaml`` (run where ``config.yaml`` is): Snakemake
    reads ``--configfile`` files itself and reports a YAML syntax error without file or line;
    this names both. Study checks beyond the schema run when the workflow starts.

    Parameters
    ----------
    argv : sequence of str, optional
        Overlay files (default: the command line).

    Returns
    -------
    int
        0 when valid, 1 with one line on stderr otherwise.
    """
    paths = list(sys.argv[1:] if argv is None else argv)
    try:
        base = load_config_file("config.yaml") if os.path.exists("config.yaml") else {}
        overlays = [(p, load_config_file(p)) for p in paths]
        validate_config(compose_config(base, overlays)[0])
    except (ConfigError, OSError) as err:
        print(f"Invalid configuration: {err}", file=sys.stderr)
        return 1
    print(f"valid: {', '.join(['config.yaml', *paths])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
