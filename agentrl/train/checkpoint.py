"""Checkpoints: atomic, fsynced directories with weights, optimizer, pipeline state, progress and the
run's config.

Layout: ``OUTPUT/checkpoints/iter-000010/{state.pt,meta.json}`` and ``OUTPUT/checkpoints/latest``
(a text file naming the newest directory); ``OUTPUT/best/{state.pt,meta.json}`` holds the weights
with the highest held-out success so far (no optimizer: it is for evaluation and export, not resume). ``meta.json`` holds the iteration and the full config
the checkpoint was trained with, so a checkpoint is self-describing: evaluation, export and resume
read it from there, whatever later happens to the run's ``config.yaml``.

A directory is written under a temporary name, its files and the directory are fsynced, then it is
renamed and the parent fsynced; the ``latest`` pointer is replaced the same way. A crash or a power
cut at any moment leaves either the old or the new checkpoint, never a half-written one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_PREFIX = "iter-"


def checkpoint_root(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def save_checkpoint(output_dir: str | Path, iteration: int, state: dict[str, Any], meta: dict[str, Any],
                    *, keep_last: int = 0) -> Path:
    """Write checkpoint ``iteration`` and point ``latest`` at it; with ``keep_last`` > 0, then remove
    all but the newest ``keep_last`` checkpoints."""
    root = checkpoint_root(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{CHECKPOINT_PREFIX}{iteration:06d}"
    tmp = root / f".tmp-{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    with open(tmp / "state.pt", "wb") as handle:
        torch.save(state, handle)
        _flush(handle)
    _write_synced(tmp / "meta.json", json.dumps({"iteration": iteration, **meta}, indent=2))
    _fsync_dir(tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    _write_synced(root / "latest.tmp", final.name)
    os.replace(root / "latest.tmp", root / "latest")
    _fsync_dir(root)
    if keep_last > 0:
        prune_checkpoints(root, keep_last)
    return final


def best_root(output_dir: str | Path) -> Path:
    return Path(output_dir) / "best"


def save_best(output_dir: str | Path, iteration: int, success: float, state: dict[str, Any],
              meta: dict[str, Any]) -> Path:
    """Replace ``OUTPUT/best`` with these weights, evaluated at ``iteration`` with held-out ``success``."""
    final = best_root(output_dir)
    tmp = final.with_name(".tmp-best")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with open(tmp / "state.pt", "wb") as handle:
        torch.save(state, handle)
        _flush(handle)
    _write_synced(tmp / "meta.json", json.dumps({"iteration": iteration, "success_rate": success, **meta}, indent=2))
    _fsync_dir(tmp)
    old = final.with_name(".old-best")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)  # a directory cannot replace a non-empty one in one rename
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(final.parent)
    return final


def read_best(output_dir: str | Path) -> dict[str, Any] | None:
    """``OUTPUT/best``'s meta (iteration, success_rate, config), or None before any evaluation."""
    meta = best_root(output_dir) / "meta.json"
    return json.loads(meta.read_text()) if meta.exists() else None


def prune_checkpoints(root: Path, keep_last: int) -> list[Path]:
    """Remove all but the newest ``keep_last`` checkpoints (``latest`` is always kept); returns the removed."""
    checkpoints = list_checkpoints(root)
    latest = (root / "latest").read_text().strip() if (root / "latest").exists() else None
    removed = [path for path in checkpoints[:-keep_last] if path.name != latest]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def list_checkpoints(root: str | Path) -> list[Path]:
    """The checkpoint directories under a ``checkpoints/`` root, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX))


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    pointer = checkpoint_root(output_dir) / "latest"
    if not pointer.exists():
        return None
    path = pointer.parent / pointer.read_text().strip()
    return path if (path / "state.pt").exists() else None


def load_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    path = Path(path)
    if path.is_dir() and (path / "latest").exists():  # a checkpoints/ root
        path = path / (path / "latest").read_text().strip()
    if not (path / "state.pt").exists():
        raise FileNotFoundError(f"no checkpoint at {path} (expected {path / 'state.pt'})")
    state = torch.load(path / "state.pt", map_location="cpu", weights_only=False)
    return state, read_meta(path)


def read_meta(path: str | Path) -> dict[str, Any]:
    """A checkpoint's ``meta.json``: its iteration and the config it was trained with."""
    return json.loads((Path(path) / "meta.json").read_text())


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint a user names: its folder, a run's ``checkpoints/`` root or its ``latest``
    pointer, or the run's output folder (its latest checkpoint)."""
    path = Path(path)
    if path.is_file() and path.name == "latest":
        path = path.parent
    for root in (path, path / "checkpoints"):
        if (root / "latest").is_file():
            return root / (root / "latest").read_text().strip()
    if not (path / "state.pt").exists():
        raise FileNotFoundError(
            f"no agentrl checkpoint at {path}: give a checkpoint folder (holding state.pt), a run's "
            "checkpoints/ folder or its latest pointer, or the run's output folder"
        )
    return path


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        _flush(handle)


def _flush(handle) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
