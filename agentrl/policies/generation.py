"""How a language-model policy samples: the one definition of its settings.

``policy.*`` generation keys of a train config are these fields (the train config's
``PolicyConfig`` extends this class), so a setting is declared once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class GenerationConfig:
    max_new_tokens: int = 32
    """Per-turn generation cap; hitting it flags the turn ``generation_truncated``."""
    max_context_tokens: int = 2048
    """Context cap; an episode that would exceed it ends truncated."""
    temperature: float = 1.0
    """Sampling temperature (logprobs are recorded under this temperature)."""
    top_p: float = 1.0
    """Nucleus sampling: sample from the smallest token set whose probability reaches ``top_p``
    (1.0: off). Log-probs stay those of the full tempered distribution, which the learner re-scores."""
    top_k: int = 0
    """Sample from the ``top_k`` most likely tokens (0: off)."""
    context: str = "full"
    """``full``: the whole episode is one growing context; ``last``: a fresh prompt every turn."""
    system_prompt: bool = True
    """Send the env's instructions as the system message."""
    greedy: bool = False
    """Take the most likely token instead of sampling."""
    reuse_kv: bool = True
    """With ``context="full"``, keep each episode's KV cache between turns and encode only new tokens."""

    def __post_init__(self) -> None:
        if self.context not in ("full", "last"):
            raise ValueError(f"context must be 'full' or 'last', got {self.context!r}")
        if not self.temperature > 0:
            raise ValueError("temperature must be > 0 (use greedy=true for argmax decoding)")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if self.max_new_tokens < 1 or self.max_context_tokens < 2:
            raise ValueError("max_new_tokens must be >= 1 and max_context_tokens >= 2")
