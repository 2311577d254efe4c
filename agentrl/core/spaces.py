"""Gymnasium spaces for text-first environments."""

from __future__ import annotations

import string
from typing import Any

import numpy as np
from gymnasium.spaces import Text

#: Characters used when *sampling* random text (``check_env`` and smoke tests).
SAMPLE_CHARSET = string.ascii_letters + string.digits + string.punctuation + " \n"


class TextSpace(Text):
    """A ``Text`` space that accepts any string up to ``max_length`` characters.

    Gymnasium's ``Text`` only accepts characters from its charset, but an LLM agent can emit any
    Unicode and an environment can render any Unicode, so membership here is length-only. Sampling
    still draws from a printable ASCII charset, capped at ``sample_max_length`` characters so that
    random actions stay short.
    """

    def __init__(
        self,
        max_length: int = 1 << 16,
        *,
        min_length: int = 0,
        sample_max_length: int = 64,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__(max_length, min_length=min_length, charset=SAMPLE_CHARSET, seed=seed)
        self.sample_max_length = min(sample_max_length, max_length)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is None and probability is None:
            length = int(self.np_random.integers(self.min_length, self.sample_max_length + 1))
            chars = self.np_random.choice(list(SAMPLE_CHARSET), size=length)
            return "".join(chars)
        return super().sample(mask=mask, probability=probability)

    def __repr__(self) -> str:
        return f"TextSpace(max_length={self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, TextSpace) and self.max_length == other.max_length
