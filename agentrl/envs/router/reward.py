"""Router-R1's reward: format, outcome (EM or F1), normalised cost, and their combination.

Followed from Router-R1 (Zhang, Feng and You, 2025; github.com/ulab-uiuc/Router-R1):

* **outcome** -- ``qa_em.py``: answers are normalised (lower case, punctuation and the articles
  a/an/the removed, whitespace collapsed); EM is 1 when the normalised answer equals a normalised
  golden answer; F1 is the token F1, best over golden answers, and 0 when either side is one of
  ``yes``/``no``/``noanswer`` and they differ.
* **cost** -- ``main_ppo.py``: ``c = sum over calls of completion_tokens x price_per_1M``; then
  ``r = sqrt(c)`` is appended to a rolling window (last 1000 episodes) and scaled by the window's
  5th and 95th percentiles: ``1 - clip((r - P5) / (P95 - P5), 0, 1)``; 0.5 when ``P95 - P5 < 1e-8``
  (with one value in the window, min and max stand in for the percentiles).
* **total** -- ``compute_score_em``: with format reward ``f`` (0 or -1), outcome ``o`` and
  normalised cost ``k``::

      f = -1          ->  total = -1                      (format failures void everything else)
      f = 0,  o = 0   ->  total = 0                       (no cost credit for a wrong answer)
      f = 0,  o > 0   ->  total = (o + f)(1 - alpha) + alpha k

  i.e. the paper's ``R_format + (1 - alpha) R_outcome + alpha R_cost`` with its hierarchy.
"""

from __future__ import annotations

import math
import re
import string
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation, drop the articles a/an/the, collapse whitespace (SQuAD style)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, golden_answers: Sequence[str] | str) -> float:
    """1.0 when the normalised prediction equals a normalised golden answer, else 0.0."""
    golden = [golden_answers] if isinstance(golden_answers, str) else golden_answers
    predicted = normalize_answer(prediction)
    return float(any(normalize_answer(answer) == predicted for answer in golden))


def token_f1(prediction: str, golden: str) -> float:
    """Token-level F1 between normalised strings (yes/no/noanswer must match exactly)."""
    predicted, truth = normalize_answer(prediction), normalize_answer(golden)
    special = ("yes", "no", "noanswer")
    if (predicted in special or truth in special) and predicted != truth:
        return 0.0
    predicted_tokens, truth_tokens = predicted.split(), truth.split()
    common = sum((Counter(predicted_tokens) & Counter(truth_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted_tokens), common / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def best_f1(prediction: str, golden_answers: Sequence[str] | str) -> float:
    golden = [golden_answers] if isinstance(golden_answers, str) else golden_answers
    return max((token_f1(prediction, answer) for answer in golden), default=0.0)


def call_cost(completion_tokens: int, price_per_1m: float) -> float:
    """Router-R1's per-call cost unit (``request_task``): completion tokens x price per 1M tokens
    (= micro-dollars)."""
    return float(completion_tokens) * float(price_per_1m)


class CostNormalizer:
    """Rolling-window cost normaliser (see module docstring); thread-safe.

    ``normalize(c)`` appends ``sqrt(c)`` to the window *then* scales it, as Router-R1 does.
    """

    def __init__(self, window: int = 1000, quantiles: tuple[float, float] = (0.05, 0.95), eps: float = 1e-8):
        if window < 1:
            raise ValueError(f"the cost window must hold at least one episode, got {window}")
        low, high = quantiles
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(f"cost quantiles must satisfy 0 <= low < high <= 1, got {quantiles}")
        self.window = deque(maxlen=window)
        self.quantiles = (low, high)
        self.eps = eps
        self._lock = threading.Lock()

    def normalize(self, cost: float) -> float:
        if cost < 0 or not math.isfinite(cost):
            raise ValueError(f"a cost must be a finite number >= 0, got {cost}")
        value = math.sqrt(cost)
        with self._lock:
            self.window.append(value)
            values = np.asarray(self.window, dtype=np.float64)
        if len(values) >= 2:  # one percentile call for both: half the numpy overhead, the same values
            low, high = (float(v) for v in np.percentile(values, [100 * q for q in self.quantiles]))
        else:
            low = high = float(values[0])
        spread = high - low
        if spread < self.eps:
            return 0.5
        return 1.0 - float(np.clip((value - low) / spread, 0.0, 1.0))


_SHARED: dict[str, CostNormalizer] = {}
_SHARED_LOCK = threading.Lock()


def shared_cost_normalizer(name: str, window: int, quantiles: tuple[float, float]) -> CostNormalizer:
    """One process-wide window per name, so that parallel env copies normalise against one
    history as Router-R1's single reward manager does."""
    with _SHARED_LOCK:
        normalizer = _SHARED.get(name)
        settings = (window, tuple(quantiles))
        if normalizer is None or (normalizer.window.maxlen, normalizer.quantiles) != settings:
            normalizer = _SHARED[name] = CostNormalizer(window, tuple(quantiles))
        return normalizer


@dataclass(frozen=True)
class RouterReward:
    """The reward of one episode, weighted parts summing to ``total``."""

    format: float
    """Router-R1 format reward (0 or -1)."""
    outcome: float
    """Weighted outcome part: ``(1 - alpha) * (outcome_score + format)`` when it counts, else 0."""
    cost: float
    """Weighted cost part: ``alpha * normalized_cost`` when it counts, else 0."""

    @property
    def total(self) -> float:
        return self.format + self.outcome + self.cost

    def components(self) -> dict[str, float]:
        return {"format": self.format, "outcome": self.outcome, "cost": self.cost}


def router_r1_reward(format_reward: float, outcome_score: float, normalized_cost: float,
                     alpha: float) -> RouterReward:
    """Combine the parts exactly as Router-R1's ``compute_score_em`` does (module docstring)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if format_reward < 0 or outcome_score == 0:
        return RouterReward(format=format_reward, outcome=0.0, cost=0.0)
    return RouterReward(format=0.0, outcome=(outcome_score + format_reward) * (1.0 - alpha),
                        cost=alpha * normalized_cost)
