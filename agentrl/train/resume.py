"""Is it safe to resume? The checkpoint's config against the config of the run being started.

A checkpoint stores the config it was trained with. Resuming compares it with the new config, key by
key (``flatten_config``), in three tiers:

* **model** (``MODEL_KEYS``: policy kind, model, sizes, LoRA, value head): the weights cannot continue;
  always refused;
* **task** (``TASK_KEYS``: env and its settings, rewards, evaluation seeds and episodes): another
  experiment; refused unless ``run.allow_changes=true``;
* everything else (learning rates, iteration count, logging...): accepted, and logged.

A refusal is a :class:`ResumeRefusedError` (a :class:`ConfigError`) listing every difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentrl.core.config import ConfigError
from agentrl.train.config import MODEL_KEYS, TASK_KEYS, TrainConfig, flatten_config, select_keys

#: Keys that name the run rather than describe it.
IGNORED_KEYS = ("run.name", "run.output_dir")


class ResumeRefusedError(ConfigError):
    """The checkpoint in the output folder belongs to a different model or task."""


@dataclass
class ConfigChanges:
    """Differences between a checkpoint's config and a new one: ``key -> (old, new)`` per tier."""

    model: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    task: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    other: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.model or self.task or self.other)

    def lines(self) -> list[str]:
        out = []
        for tier, changes in (("model", self.model), ("task", self.task), ("other", self.other)):
            out += [f"  {tier}: {key}: {old!r} -> {new!r}" for key, (old, new) in sorted(changes.items())]
        return out


def config_changes(stored: TrainConfig, current: TrainConfig) -> ConfigChanges:
    old, new = flatten_config(stored), flatten_config(current)
    differing = {k: (old.get(k), new.get(k)) for k in sorted(old.keys() | new.keys())
                 if k not in IGNORED_KEYS and old.get(k) != new.get(k)}
    model = select_keys(differing, MODEL_KEYS)
    task = select_keys(differing, TASK_KEYS)
    other = {k: v for k, v in differing.items() if k not in model and k not in task}
    return ConfigChanges(model, task, other)


def check_resume(stored: TrainConfig, current: TrainConfig, checkpoint: Path) -> ConfigChanges:
    """The changes between the checkpoint's config and ``current``; raises :class:`ResumeRefusedError`
    when they change the model, or the task without ``run.allow_changes``."""
    changes = config_changes(stored, current)
    if changes.model or (changes.task and not current.run.allow_changes):
        output = current.run.output_dir
        advice = [f"To start a new run, give it its own folder: run.output_dir=runs/NEW "
                  f"(or run.resume=false to train from scratch in {output}, replacing its checkpoints)."]
        if changes.model:
            advice.append("The model differs, so these weights cannot continue with this config.")
        else:
            advice.append("To continue this run with the task changes, set run.allow_changes=true.")
        raise ResumeRefusedError("\n".join(
            [f"{output} holds checkpoint {checkpoint.name}, trained with a different config "
             f"(checkpoint -> now):", *changes.lines(), *advice]))
    return changes
