"""Typed configuration: dataclasses built from mappings, with helpful errors and docstring help.

Every component (env, policy, reward stage, learner) has one dataclass config. Attribute
docstrings (a string literal right after a field) are the documentation: :func:`field_docs`
reads them so that ``--help`` and error messages show them.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import math
import textwrap
import types
import typing
from functools import lru_cache
from typing import Any, Mapping, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration is invalid; the message says what to change."""


@lru_cache(maxsize=None)
def field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings of a dataclass (and its dataclass bases), by field name."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
        for node, following in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices`` (for config ``__post_init__``)."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def check_range(name: str, value: float, low: float | None = None, high: float | None = None, *,
                low_open: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite number in ``[low, high]`` (``(low, high]``
    with ``low_open``); for config ``__post_init__``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _resolved_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # forward refs that cannot be resolved: fall back to raw annotations
        return {f.name: f.type for f in dataclasses.fields(cls)}


def _dataclass_in(hint: Any) -> type | None:
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return hint
    if typing.get_origin(hint) not in (typing.Union, types.UnionType):  # list[Spec] is a list, not a Spec
        return None
    for arg in typing.get_args(hint):
        if dataclasses.is_dataclass(arg) and isinstance(arg, type):
            return arg
    return None


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Convert strings from the command line into the annotated scalar type."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        hint = args[0] if len(args) == 1 else hint
    if not isinstance(value, str):
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value
    try:
        if hint is bool:
            lowered = value.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if hint in (int, float):
            return hint(value)
        if typing.get_origin(hint) in (list, tuple) or hint in (list, tuple):
            import yaml

            return yaml.safe_load(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: cannot read {value!r} as {getattr(hint, '__name__', hint)}") from exc
    return value


def build_config(cls: type[T], *sources: Mapping[str, Any] | T | None, where: str = "") -> T:
    """Build ``cls`` from a base (instance or mapping) overlaid with further mappings.

    Nested dataclass fields accept mappings. Unknown keys raise :class:`ConfigError` listing the
    valid keys with their documentation.
    """
    values: dict[str, Any] = {}
    for source in sources:
        if source is None:
            continue
        if dataclasses.is_dataclass(source) and not isinstance(source, type):
            source = {f.name: getattr(source, f.name) for f in dataclasses.fields(source)}
        if not isinstance(source, Mapping):
            raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {type(source).__name__}")
        for key, value in source.items():
            values[key] = _merge(values.get(key), value)
    return _instantiate(cls, values, where or cls.__name__)


def _merge(old: Any, new: Any) -> Any:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        merged = dict(old)
        for key, value in new.items():
            merged[key] = _merge(merged.get(key), value)
        return merged
    if dataclasses.is_dataclass(old) and isinstance(new, Mapping):
        return _merge({f.name: getattr(old, f.name) for f in dataclasses.fields(old)}, new)
    return new


def _instantiate(cls: type[T], values: Mapping[str, Any], where: str) -> T:
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = [k for k in values if k not in fields]
    if unknown:
        raise ConfigError(unknown_keys_message(cls, unknown, where))
    hints = _resolved_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        nested = _dataclass_in(hints.get(key))
        path = f"{where}.{key}"
        if nested is not None and isinstance(value, Mapping):
            kwargs[key] = _instantiate(nested, value, path)
        elif nested is not None and dataclasses.is_dataclass(value):
            kwargs[key] = value
        elif nested is not None and value is not None and _is_section(hints.get(key)):
            raise ConfigError(f"{path} must be a mapping of its settings ({', '.join(field_names(nested))}), "
                              f"got {value!r}")
        else:
            kwargs[key] = _coerce(value, hints.get(key), path)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _is_section(hint: Any) -> bool:
    """A field holding one nested config (``Cfg`` or ``Cfg | None``), not a list or mapping of them."""
    if dataclasses.is_dataclass(hint):
        return True
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and any(
        dataclasses.is_dataclass(arg) for arg in typing.get_args(hint))


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]


def unknown_keys_message(cls: type, unknown: list[str], where: str) -> str:
    valid = [f.name for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    lines = [f"{where}: unknown key(s) {', '.join(repr(k) for k in unknown)}."]
    for key in unknown:
        hint = _suggest(key, valid)
        if hint:
            lines.append(f"  {key!r}:{hint}")
    lines.append("Valid keys:")
    lines.extend(describe_fields(cls, indent="  "))
    return "\n".join(lines)


def describe_fields(cls: type, indent: str = "", prefix: str = "") -> list[str]:
    """Lines of ``name = default  -- doc`` for every field, recursing into nested configs."""
    docs = field_docs(cls)
    hints = _resolved_hints(cls)
    lines: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init:
            continue
        nested = _dataclass_in(hints.get(f.name))
        name = prefix + f.name
        if nested is not None:
            lines.append(f"{indent}{name}.*  {docs.get(f.name, '')}".rstrip())
            lines.extend(describe_fields(nested, indent + "  ", prefix=name + "."))
            continue
        default = _default_repr(f)
        doc = docs.get(f.name, "")
        lines.append(f"{indent}{name} = {default}" + (f"  -- {doc}" if doc else ""))
    return lines


def _default_repr(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        return repr(f.default)
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return repr(f.default_factory())  # type: ignore[misc]
    return "<required>"


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """Turn ``["a.b=1", "c=x"]`` into ``{"a": {"b": "1"}, "c": "x"}`` (values stay strings)."""
    tree: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key=value (for example rl.iterations=20)")
        key, value = item.split("=", 1)
        node = tree
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with an earlier value for {part!r}")
        node[parts[-1]] = value
    return tree


def config_to_dict(config: Any) -> Any:
    """A plain, YAML/JSON-friendly copy of a (nested) config dataclass."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: config_to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, (list, tuple)):
        return [config_to_dict(v) for v in config]
    if isinstance(config, Mapping):
        return {k: config_to_dict(v) for k, v in config.items()}
    return config
