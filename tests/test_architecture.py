"""The package's structure: imports point one way, no cycles, no hidden function-local imports, and no
built-in env extends the env contract through private methods."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import agentrl
from agentrl.core.env import TextEnv

ROOT = Path(agentrl.__file__).parent

#: Layers, lowest first: a module may import its own package and packages of lower layers only.
LAYERS = [
    {"core"},
    {"models", "sandboxes"},
    {"policies", "serving", "judges"},
    {"envs", "rewards"},
    {"rollout"},
    {"train"},
    {"eval", "integrations"},
    {"commands", "cli", "__init__", "__main__"},
]
LEVEL = {package: level for level, packages in enumerate(LAYERS) for package in packages}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return out


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(tree: ast.AST, module: str) -> list[tuple[str, int, bool]]:
    """``(imported agentrl module, line, inside a function)`` for every import in ``tree``."""
    found = []
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    local_lines = {node.lineno for fn in functions for node in ast.walk(fn) if isinstance(node, (ast.Import, ast.ImportFrom))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                base = ".".join(module.split(".")[: -node.level] + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names if base == "agentrl"]
        else:
            continue
        for name in names:
            if name == "agentrl" or name.startswith("agentrl."):
                found.append((name, node.lineno, node.lineno in local_lines))
    return found


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            lines |= {n.lineno for child in node.body for n in ast.walk(child) if hasattr(n, "lineno")}
    return lines


GRAPH = {module: _imports(ast.parse(path.read_text()), module) for module, path in _modules()}
TYPE_ONLY = {module: _type_checking_lines(ast.parse(path.read_text())) for module, path in _modules()}


def test_every_package_has_a_layer():
    packages = {_package(m) for m in GRAPH}
    assert packages - set(LEVEL) <= {"presets", "assets"}, f"add {sorted(packages - set(LEVEL))} to LAYERS"


def test_imports_point_down_the_layers():
    wrong = []
    for module, imports in GRAPH.items():
        here = _package(module)
        for name, line, _ in imports:
            there = _package(name)
            if there == here or line in TYPE_ONLY[module] or name == "agentrl":
                continue
            if LEVEL.get(there, 99) >= LEVEL[here]:
                wrong.append(f"{module}:{line} imports {name} ({here} -> {there})")
    assert not wrong, "imports against the layering (core <- models/sandboxes <- policies/serving/judges <- envs/rewards " \
                      "<- rollout <- train <- eval <- commands):\n" + "\n".join(wrong)


def test_no_function_local_imports_of_agentrl_modules():
    """Optional modules load through ``agentrl.core.extras.optional_module``; nothing hides a cycle."""
    local = [f"{module}:{line} imports {name}" for module, imports in GRAPH.items()
             for name, line, inside in imports if inside]
    assert not local, "function-local imports of agentrl modules:\n" + "\n".join(local)


def test_no_import_cycles_between_modules():
    known = set(GRAPH)
    edges = {m: {n for n, line, _ in imports if n in known and n != m and line not in TYPE_ONLY[m]}
             for m, imports in GRAPH.items()}
    # a package's __init__ re-exporting its own modules is not a cycle worth reporting
    edges = {m: {n for n in targets if not n.startswith(m + ".")} for m, targets in edges.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if state.get(target) is None:
                cycle = visit(target)
                if cycle:
                    return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(edges):
        if state.get(node) is None:
            cycle = visit(node)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _builtin_env_classes() -> list[type]:
    classes = []
    for info in pkgutil.walk_packages([str(ROOT / "envs")], prefix="agentrl.envs."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an extra that is not installed; CI installs them all
            continue
        classes += [c for _, c in inspect.getmembers(module, inspect.isclass)
                    if issubclass(c, TextEnv) and c is not TextEnv and c.__module__ == module.__name__]
    return classes


def test_no_builtin_env_overrides_a_private_textenv_method():
    private = {name for name in vars(TextEnv) if name.startswith("_") and not name.startswith("__")}
    classes = _builtin_env_classes()
    assert len(classes) >= 5
    offenders = [f"{c.__module__}.{c.__name__}.{name}" for c in classes for name in private & set(vars(c))]
    offenders += [f"{c.__module__}.{c.__name__}.{name}" for c in classes for name in ("step", "reset") if name in vars(c)]
    assert not offenders, "envs must implement the public hooks only: " + ", ".join(offenders)


@pytest.mark.parametrize("layer_violation", ["agentrl.train.loop"])
def test_the_layering_check_can_fail(layer_violation):
    """A core module importing the trainer is reported (the check above is not vacuous)."""
    tree = ast.parse(f"import {layer_violation}\n")
    (name, _, inside), = _imports(tree, "agentrl.core.fake")
    assert LEVEL[_package(name)] > LEVEL[_package("agentrl.core.fake")] and not inside
