"""What to play: :class:`EpisodeSpec` (a reset seed, options and a group id) and grouped spec lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence


@dataclass
class EpisodeSpec:
    """Which task to play: the reset seed and options, and the group it belongs to."""

    seed: int | None = None
    group_id: str = ""
    options: dict[str, Any] = field(default_factory=dict)


def grouped_specs(seeds: Sequence[int], group_size: int, options: dict[str, Any] | None = None) -> list[EpisodeSpec]:
    """``group_size`` episodes of each seed, sharing a group id (for group baselines)."""
    return [
        EpisodeSpec(seed=seed, group_id=f"seed-{seed}", options=dict(options or {}))
        for seed in seeds
        for _ in range(group_size)
    ]
