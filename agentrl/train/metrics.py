"""Metrics: one JSONL record per iteration, mirrored to TensorBoard, plotted as PNG curves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class MetricsLogger:
    def __init__(self, output_dir: str | Path, *, tensorboard: bool = True, resume_iteration: int | None = None):
        self.dir = Path(output_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "metrics.jsonl"
        self._truncate_after(resume_iteration)
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.dir / "tensorboard"))

    def _truncate_after(self, iteration: int | None) -> None:
        """On resume, drop records newer than the checkpoint so the curve has no duplicates."""
        if not self.path.exists():
            return
        if iteration is None:
            self.path.unlink()
            return
        kept = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line).get("iteration", 0) <= iteration]
        self.path.write_text("".join(line + "\n" for line in kept))

    def log(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.writer is not None:
            step = int(record.get("iteration", 0))
            for key, value in record.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "iteration":
                    self.writer.add_scalar(key, value, step)
            self.writer.flush()

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
