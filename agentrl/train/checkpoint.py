"""Checkpoints: atomic directories with weights, optimizer, pipeline state and progress.

Layout: ``OUTPUT/checkpoints/iter-000010/{state.pt,meta.json}`` and ``OUTPUT/checkpoints/latest``
(a text file naming the newest directory). A directory is written under a temporary name and
renamed, so an interruption never leaves a half-written "latest".
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch



def checkpoint_root(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def save_checkpoint(output_dir: str | Path, iteration: int, state: dict[str, Any], meta: dict[str, Any]) -> Path:
    root = checkpoint_root(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"iter-{iteration:06d}"
    tmp = root / f".tmp-{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save(state, tmp / "state.pt")
    (tmp / "meta.json").write_text(json.dumps({"iteration": iteration, **meta}, indent=2))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    pointer = root / "latest.tmp"
    pointer.write_text(final.name)
    os.replace(pointer, root / "latest")
    return final


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
    meta = json.loads((path / "meta.json").read_text())
    return state, meta


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
