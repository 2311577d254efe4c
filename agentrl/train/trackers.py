"""Experiment trackers beside ``metrics.jsonl`` and TensorBoard: Weights & Biases and MLflow.

``run.loggers: [wandb, mlflow]`` turns them on. Both are optional packages (``pip install
'agentrl[trackers]'``) configured the way their users expect, through their own environment
variables: ``WANDB_MODE=offline`` / ``WANDB_PROJECT`` / ``WANDB_API_KEY`` for wandb (its files go
under the run's folder), ``MLFLOW_TRACKING_URI`` / ``MLFLOW_EXPERIMENT_NAME`` for MLflow. Each
tracker receives the same records and sample transcripts as ``metrics.jsonl`` and ``samples.jsonl``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Protocol

from agentrl.core.extras import optional_module

EXTRA = "trackers"


class Tracker(Protocol):
    def log(self, metrics: Mapping[str, float], step: int) -> None: ...

    def log_text(self, name: str, text: str, step: int) -> None: ...

    def close(self) -> None: ...


class WandbTracker:
    """Logs to a wandb run named after the agentrl run; its files live in ``OUTPUT/wandb``."""

    def __init__(self, output_dir: Path, name: str, config: Mapping[str, Any]):
        self.wandb = optional_module("wandb", EXTRA)
        self.run = self.wandb.init(project=os.environ.get("WANDB_PROJECT", "agentrl"), name=name,
                                   config=dict(config), dir=str(output_dir), reinit="finish_previous")

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self.run.log(dict(metrics), step=step)

    def log_text(self, name: str, text: str, step: int) -> None:
        self.run.log({name: self.wandb.Html(f"<pre>{_escape(text)}</pre>")}, step=step)

    def close(self) -> None:
        self.run.finish()


class MLflowTracker:
    """Logs to an MLflow run (params: the flattened config; metrics; transcripts as text artifacts)."""

    def __init__(self, output_dir: Path, name: str, config: Mapping[str, Any]):
        self.mlflow = optional_module("mlflow", EXTRA)
        self.mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", "agentrl"))
        self.run = self.mlflow.start_run(run_name=name)
        params = {key: str(value)[:500] for key, value in config.items()}  # MLflow caps param values
        self.mlflow.log_params(params)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self.mlflow.log_metrics({_mlflow_key(k): v for k, v in metrics.items()}, step=step)

    def log_text(self, name: str, text: str, step: int) -> None:
        self.mlflow.log_text(text, f"{name}/iter-{step:06d}.txt")

    def close(self) -> None:
        self.mlflow.end_run()


#: Trackers by ``run.loggers`` name: ``build(output_dir, run_name, flat_config)``.
TRACKERS = {"wandb": WandbTracker, "mlflow": MLflowTracker}


def build_trackers(names: list[str], output_dir: Path, name: str, config: Mapping[str, Any]) -> list[Tracker]:
    return [TRACKERS[n](output_dir, name, config) for n in names]


def _mlflow_key(key: str) -> str:
    """MLflow metric names allow letters, digits and ``_-./ :``; anything else becomes ``_``."""
    return "".join(c if c.isalnum() or c in "_-./ :" else "_" for c in key)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
