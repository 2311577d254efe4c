"""Components built from one config dataclass that round-trip through their config.

A reward stage, a judge or any other pluggable piece subclasses :class:`Configurable`: its
constructor takes one typed config dataclass (or the same fields as keyword arguments), and
``to_config()`` writes it back out as ``{"type": ClassName, **fields}``. Values a config file cannot
hold (a model object, a client) are written as ``@Class.field`` references, which
:func:`resolve_refs` fills from objects given at build time.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping

from agentrl.core.config import ConfigError, build_config

#: Prefix of a config value that stands for an object supplied at ``from_config`` time.
OBJECT_REF = "@"


class Configurable:
    """A component built from one config dataclass; ``to_config`` writes it back out."""

    Config: ClassVar[type]

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = build_config(self.Config, config, overrides, where=type(self).__name__)

    def to_config(self) -> dict[str, Any]:
        """``{"type": ClassName, **fields}``, JSON-friendly; objects become ``@Class.field`` refs."""
        out: dict[str, Any] = {"type": type(self).__name__}
        for f in dataclasses.fields(self.config):
            out[f.name] = plain_value(getattr(self.config, f.name), f"{type(self).__name__}.{f.name}")
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_config().items() if k != "type")
        return f"{type(self).__name__}({args})"


def plain_value(value: Any, ref: str) -> Any:
    """A JSON-friendly copy of ``value``; components nest as their config, other objects as a ref."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain_value(v, ref) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain_value(v, f"{ref}.{k}") for k, v in value.items()}
    if callable(getattr(value, "to_config", None)):
        return value.to_config()
    return OBJECT_REF + ref


def resolve_refs(value: Any, objects: Mapping[str, Any], where: str) -> Any:
    """Replace ``@name`` strings with ``objects[name]``; a missing object is a clear error."""
    if isinstance(value, str) and value.startswith(OBJECT_REF):
        name = value[len(OBJECT_REF) :]
        if name not in objects:
            raise ConfigError(
                f"{where}: the config refers to an object {value!r} that a config file cannot hold "
                f"(a model or client instance). Pass it in: from_config(cfg, objects={{{name!r}: obj}}), "
                "or give a name or path instead of an object when you build the stage."
            )
        return objects[name]
    if isinstance(value, list):
        return [resolve_refs(v, objects, where) for v in value]
    if isinstance(value, dict):
        return {k: resolve_refs(v, objects, where) for k, v in value.items()}
    return value
