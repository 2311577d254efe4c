"""PNG plots: learning curves from ``metrics.jsonl``, and runs compared (``agentrl plot``): the seeds
of one experiment as their mean with a min-max band, different experiments side by side."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from agentrl.train.config import flatten_config, load_config
from agentrl.train.metrics import read_records

#: Panels of the learning-curve figure: (title, metric keys drawn in it).
PANELS = (
    ("success rate", ("eval/success_rate", "sft/success_rate", "rollout/success_rate")),
    ("return", ("eval/mean_return", "rollout/mean_return")),
    ("KL / approx KL", ("learner/kl", "learner/approx_kl")),
    ("entropy", ("learner/entropy",)),
)


def plot_learning_curves(records: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stage_keys = sorted({k for r in records for k in r if k.startswith("rewards/") and k.endswith("/mean")})
    panels = list(PANELS) + ([("reward stages", tuple(stage_keys))] if stage_keys else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4))
    for ax, (name, keys) in zip(axes, panels):
        for key in keys:
            points = [(r["iteration"], r[key]) for r in records if key in r and r[key] is not None]
            if points:
                xs, ys = zip(*points)
                point = key.startswith(("eval/", "sft/"))  # sparse series: draw the points
                ax.plot(xs, ys, marker="o" if point else None, markersize=5 if key.startswith("sft/") else 3,
                        linestyle="none" if key.startswith("sft/") else "-", label=key)
        ax.set_title(name)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------ comparing runs
#: Metrics compared by ``agentrl plot`` unless others are named.
COMPARED = ("eval/success_rate", "eval/mean_return", "rollout/success_rate", "rollout/mean_return")


@dataclass
class RunCurves:
    """One run's metrics and the config settings that identify its experiment."""

    path: Path
    records: list[dict[str, Any]]
    settings: dict[str, Any]
    """The flattened config without ``run.*`` (so seeds of one experiment share it)."""


@dataclass
class Experiment:
    """Runs that differ only in ``run.*`` settings (seeds): drawn as their mean with a min-max band."""

    label: str
    runs: list[RunCurves]

    def series(self, metric: str) -> tuple[list[int], list[float], list[float], list[float]]:
        """Iterations with the mean, minimum and maximum over the runs that logged ``metric`` there."""
        by_iteration: dict[int, list[float]] = {}
        for run in self.runs:
            for record in run.records:
                value = record.get(metric)
                if isinstance(value, (int, float)) and value is not None:
                    by_iteration.setdefault(int(record["iteration"]), []).append(float(value))
        steps = sorted(by_iteration)
        values = [by_iteration[s] for s in steps]
        return steps, [sum(v) / len(v) for v in values], [min(v) for v in values], [max(v) for v in values]


def load_run(path: str | Path) -> RunCurves:
    """A run folder's metrics and experiment settings (from its ``config.yaml``)."""
    path = Path(path)
    if not (path / "metrics.jsonl").is_file():
        raise FileNotFoundError(f"{path} is not a training run folder (it has no metrics.jsonl)")
    settings = {}
    if (path / "config.yaml").is_file():
        flat = flatten_config(load_config(path / "config.yaml"))
        settings = {k: v for k, v in flat.items() if not k.startswith("run.")}
    return RunCurves(path, read_records(path / "metrics.jsonl"), settings)


def group_runs(runs: Sequence[RunCurves]) -> list[Experiment]:
    """Runs grouped by experiment, labelled by the settings that tell the experiments apart (or by
    their folder names when only the folders differ)."""
    groups: dict[str, list[RunCurves]] = {}
    for run in runs:
        groups.setdefault(json.dumps(run.settings, sort_keys=True, default=str), []).append(run)
    members = list(groups.values())
    differing = sorted({k for g in members for k in g[0].settings
                        if any(other[0].settings.get(k) != g[0].settings.get(k) for other in members)})
    experiments = []
    for group in members:
        if differing:
            label = ", ".join(f"{k}={group[0].settings.get(k)}" for k in differing)
        else:
            label = ", ".join(run.path.name for run in group)
        if len(group) > 1:
            label += f" ({len(group)} seeds)"
        experiments.append(Experiment(label[:90], group))
    return experiments


def plot_comparison(experiments: Sequence[Experiment], path: str | Path,
                    metrics: Sequence[str] = COMPARED) -> Path:
    """One panel per metric; each experiment's mean curve with its seeds' min-max band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(4.4 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for experiment in experiments:
            steps, mean, low, high = experiment.series(metric)
            if not steps:
                continue
            sparse = metric.startswith("eval/")
            line, = ax.plot(steps, mean, marker="o" if sparse else None, markersize=3, label=experiment.label)
            if len(experiment.runs) > 1:
                ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_title(metric)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        more = ax.get_legend_handles_labels()
        if len(more[1]) > len(labels):
            handles, labels = more
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=8)
    fig.tight_layout(rect=(0, 0.06 * ((len(labels) + 2) // 3), 1, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
