"""Metrics: one JSONL record per iteration, mirrored to TensorBoard and any configured trackers;
episode transcripts per iteration in ``samples.jsonl`` (and TensorBoard text).

A run killed while writing can leave a torn last line in ``metrics.jsonl``; reading the file drops it
(with a warning) and the next write starts on a fresh line, so a resume is never blocked by it.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Sequence

from agentrl.core.trajectory import Trajectory, observation_text
from agentrl.train.trackers import Tracker

log = logging.getLogger("agentrl.train")

#: Characters of one observation or action kept in a sample transcript.
SAMPLE_TEXT_CHARS = 2000


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics file. A line that is not JSON (a write torn by a crash) is dropped
    with a warning; the file is rewritten without it so later appends stay valid."""
    if not path.exists():
        return []
    records, torn = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            torn.append(number)
    if torn:
        log.warning("%s: dropped %d unreadable line(s) (%s), left by an interrupted write",
                    path, len(torn), ", ".join(map(str, torn)))
        write_records(path, records)
    return records


def write_records(path: Path, records: Sequence[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    tmp.replace(path)


class MetricsLogger:
    def __init__(self, output_dir: str | Path, *, tensorboard: bool = True, resume_iteration: int | None = None,
                 trackers: Sequence[Tracker] = ()):
        self.dir = Path(output_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "metrics.jsonl"
        self.samples_path = self.dir / "samples.jsonl"
        for path in (self.path, self.samples_path):
            self._truncate_after(path, resume_iteration)
        self.trackers = list(trackers)
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.dir / "tensorboard"))

    @staticmethod
    def _truncate_after(path: Path, iteration: int | None) -> None:
        """On resume, drop records newer than the checkpoint so the curve has no duplicates; on a
        fresh start, drop them all."""
        if not path.exists():
            return
        if iteration is None:
            path.unlink()
            return
        write_records(path, [r for r in read_records(path) if r.get("iteration", 0) <= iteration])

    def log(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        step = int(record.get("iteration", 0))
        scalars = {k: v for k, v in record.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "iteration" and math.isfinite(v)}
        if self.writer is not None:
            for key, value in scalars.items():
                self.writer.add_scalar(key, value, step)
            self.writer.flush()
        for tracker in self.trackers:
            tracker.log(scalars, step)

    def log_samples(self, iteration: int, trajectories: Sequence[Trajectory]) -> None:
        """Transcripts of a few episodes: one JSONL record each, and one TensorBoard text entry."""
        if not trajectories:
            return
        samples = [transcript(iteration, t) for t in trajectories]
        with self.samples_path.open("a", encoding="utf-8") as handle:
            for sample in samples:
                handle.write(json.dumps(sample) + "\n")
        text = "\n\n".join(format_transcript(s) for s in samples)
        if self.writer is not None:
            self.writer.add_text("samples", "```\n" + text + "\n```", iteration)
            self.writer.flush()
        for tracker in self.trackers:
            tracker.log_text("samples", text, iteration)

    def records(self) -> list[dict[str, Any]]:
        return read_records(self.path)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        for tracker in self.trackers:
            tracker.close()


def transcript(iteration: int, trajectory: Trajectory) -> dict[str, Any]:
    """One episode as a plain record: what the agent saw and wrote each turn, and what it earned."""
    return {
        "iteration": iteration,
        "task_id": trajectory.task_id,
        "success": trajectory.success,
        "return": trajectory.total_reward,
        "turns": [
            {"observation": _cut(observation_text(turn.observation)), "action": _cut(turn.action),
             "reward": turn.reward}
            for turn in trajectory.turns
        ],
        "final_observation": (_cut(observation_text(trajectory.final_observation))
                              if trajectory.final_observation is not None else None),
    }


def format_transcript(sample: dict[str, Any]) -> str:
    lines = [f"iteration {sample['iteration']}, task {sample['task_id']}: "
             f"{'success' if sample['success'] else 'no success'}, return {sample['return']:+.2f}"]
    for number, turn in enumerate(sample["turns"], start=1):
        lines += [f"--- turn {number} observation", turn["observation"],
                  f"--- turn {number} action (reward {turn['reward']:+.2f})", turn["action"]]
    if sample.get("final_observation") is not None:
        lines += ["--- final observation", sample["final_observation"]]
    return "\n".join(lines)


def _cut(text: str) -> str:
    return text if len(text) <= SAMPLE_TEXT_CHARS else text[:SAMPLE_TEXT_CHARS] + f"... ({len(text)} characters)"


def pick_samples(batch: Sequence[Trajectory], count: int) -> list[Trajectory]:
    """``count`` episodes spread over the batch's range of returns, from the best to the worst."""
    if count <= 0 or not batch:
        return []
    ranked = sorted(batch, key=lambda t: t.total_reward, reverse=True)
    if count >= len(ranked):
        return ranked
    if count == 1:
        return ranked[:1]
    step = (len(ranked) - 1) / (count - 1)
    return [ranked[round(i * step)] for i in range(count)]
