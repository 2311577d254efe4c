"""Loading the parts of agentrl that need an optional extra (``pip install 'agentrl[EXTRA]'``).

Modules that wrap an optional dependency (Ray, PettingZoo, Docker, MiniHack ...) are loaded by name
through :func:`optional_module` at the moment they are needed, so ``import agentrl`` and every
command work without the extra, and a missing one is a message with the install command.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtraError(ImportError):
    """A feature needs an optional dependency that is not installed."""


def optional_module(module: str, extra: str | None) -> ModuleType:
    """Import ``module``; if a dependency is missing, say which extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if extra is None or (exc.name or "").split(".")[0] == "agentrl":
            raise
        raise MissingExtraError(
            f"{module} needs optional dependencies ({exc.name or exc}). "
            f"Install them with: pip install 'agentrl[{extra}]'"
        ) from exc
