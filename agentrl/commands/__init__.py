"""One module per CLI verb; each defines ``add_parser(subparsers)``. Helpers shared by the verbs:
sub-parsers with examples, argument types that reject bad numbers, ``--import``, env and config
overrides read as YAML values.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import sys
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from agentrl.core.config import ConfigError

#: Field types whose command-line values are taken as they are (``build_config`` converts and checks them).
SCALARS = (str, int, float, bool)


def command_parser(subparsers, name: str, help: str, examples: str) -> argparse.ArgumentParser:
    """A sub-parser whose ``--help`` ends with worked examples."""
    return subparsers.add_parser(
        name,
        help=help,
        description=help,
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def count(low: int):
    """An argparse type: a whole number >= ``low`` (a clear usage error otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = f"whole number >= {low}"
    return parse


def add_import_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--import", dest="imports", action="append", default=[], metavar="MODULE",
        help="import a module (or a .py file) that registers your envs first (repeatable); an env id "
             "written module:Env-v0 imports its module too",
    )


def import_modules(names: list[str]) -> None:
    """Import each ``--import`` name: a module on the path (``agentrl`` puts the current folder on it)
    or a ``.py`` file."""
    for name in names:
        try:
            if name.endswith(".py"):
                _import_file(Path(name))
            else:
                importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(f"--import {name}: cannot import it ({exc}); give a module on the Python path "
                              "or a .py file") from exc


def _import_file(path: Path) -> None:
    if not path.is_file():
        raise ConfigError(f"--import {path}: no such file")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)


def yaml_value(text: str, where: str) -> Any:
    """A command-line value read as YAML (``10`` -> 10, ``[7,7]`` -> [7, 7], ``{}`` -> {}, ``abc`` -> "abc")."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: cannot read {text!r} as a YAML value ({' '.join(str(exc).split())})") from exc


def parse_env_kwargs(items: list[str] | None) -> dict:
    """``["max_turns=10", "dim_room=[7,7]"]`` -> keyword arguments for ``agentrl.make``."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--env-arg {item!r} must look like key=value (for example max_turns=10)")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml_value(value, f"--env-arg {key}")
    return out


def config_overrides(cls: type, items: list[str]) -> tuple[dict[str, Any], list[tuple[str, ...]]]:
    """``KEY=VALUE`` overrides of config class ``cls`` as a nested mapping, plus the free-form keys
    given a whole mapping (``env.kwargs={...}``), which replace the source's value instead of merging
    into it (a whole config section, ``policy.lora={r: 4}``, merges like its dotted keys).

    Values of typed scalar fields stay strings (the config converts and range-checks them, with its
    own messages); values of free-form fields (``env.kwargs``, ``rewards``, lists) and of keys inside
    them (``env.kwargs.max_turns=10``) are read as YAML, so they keep their types.
    """
    tree: dict[str, Any] = {}
    replaced: list[tuple[str, ...]] = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key=value (for example rl.iterations=20)")
        key, text = item.split("=", 1)
        path = tuple(part.strip() for part in key.strip().split("."))
        hint, free = _field_type(cls, path)
        value = yaml_value(text, key) if free else text
        if (free and isinstance(value, dict) and not dataclasses.is_dataclass(hint)
                and len(path) == _typed_depth(cls, path)):
            replaced.append(path)
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with an earlier value for {part!r}")
        node[path[-1]] = value
    return tree, replaced


def without_keys(source: dict[str, Any], paths: list[tuple[str, ...]]) -> dict[str, Any]:
    """A copy of ``source`` with the values at ``paths`` removed (so overrides there replace them)."""
    out = dict(source)
    for path in paths:
        node = out
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                break
            node[part] = dict(node[part])
            node = node[part]
        else:
            node.pop(path[-1], None)
    return out


def _typed_depth(cls: type, path: tuple[str, ...]) -> int:
    """How many parts of ``path`` name dataclass fields (the rest lies inside a free-form value)."""
    depth = 0
    for part in path:
        if not (dataclasses.is_dataclass(cls) and part in {f.name for f in dataclasses.fields(cls)}):
            break
        depth += 1
        cls = typing.get_type_hints(cls).get(part)
    return depth


def _field_type(cls: type, path: tuple[str, ...]) -> tuple[Any, bool]:
    """The annotated type at ``path`` and whether its values are free-form (read as YAML)."""
    hint: Any = cls
    for part in path:
        if not dataclasses.is_dataclass(hint):
            return None, True  # inside a free-form mapping
        hints = typing.get_type_hints(hint)
        if part not in hints:
            return None, False  # unknown key: the config names the valid ones
        hint = hints[part]
    if dataclasses.is_dataclass(hint):
        return hint, True  # a whole section given at once (policy.lora={enabled: true, r: 4}) merges in
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = [a for a in (typing.get_args(hint) if union else (hint,)) if a is not type(None)]
    return hint, not all(option in SCALARS for option in options)
