"""Learning-rate schedule shapes shared by SFT (per optimizer step) and RL (per update)."""

from __future__ import annotations

import math


def cosine_decay(elapsed: float, span: float) -> float:
    """Half a cosine from 1 down to 0 as ``elapsed`` goes from 0 to ``span`` (clamped at both ends)."""
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, elapsed) / max(1.0, span))))
