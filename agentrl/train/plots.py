"""PNG plots: learning curves from ``metrics.jsonl``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

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
