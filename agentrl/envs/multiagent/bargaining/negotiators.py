"""Scripted negotiators: time-dependent concession tactics (Faratin, Sierra & Jennings, 1998).

A negotiator's aspiration falls from the whole pool to its reservation level as the deadline nears:
``a(t) = 1 - (1 - reservation) * t ** (1 / concession)`` with ``t`` the fraction of moves played.
``concession > 1`` concedes early ("conceder"), ``< 1`` holds out ("boulware"), ``1`` is linear.
It accepts a standing offer worth at least its aspiration (or anything on the last move), and
otherwise proposes the most generous split that still meets its aspiration. It reads the private
view every bargaining env puts in ``info["negotiation"]``, so it plays in the multi-agent env, as
the built-in opponent of the single-agent view, and as a fixed opponent in training.
"""

from __future__ import annotations

import itertools
from typing import Any, Mapping, Sequence

from agentrl.core.policy import ActionOutput, PolicyInput, wrap_answer

TACTICS = {"conceder": 3.0, "linear": 1.0, "boulware": 0.3}
"""Named concession exponents."""


class TimeDependentNegotiator:
    """A deterministic bargaining policy (see module docstring)."""

    def __init__(
        self,
        concession: float | str = "linear",
        reservation: float = 0.3,
        *,
        tag: str | None = "answer",
        short: bool = False,
    ):
        if isinstance(concession, str):
            if concession not in TACTICS:
                raise ValueError(
                    f"unknown tactic {concession!r}; choose from {', '.join(TACTICS)} or a number"
                )
            concession = TACTICS[concession]
        if concession <= 0 or not 0.0 <= reservation <= 1.0:
            raise ValueError("concession must be > 0 and reservation in [0, 1]")
        self.concession = float(concession)
        self.reservation = float(reservation)
        self.tag = tag
        self.short = short
        """Write proposals in the short form (``propose 1 0 2``): fewer tokens to imitate."""

    def aspiration(self, turn: int, max_turns: int) -> float:
        """Fraction of the pool's value this negotiator insists on at move ``turn``."""
        t = min(max(turn / max(max_turns - 1, 1), 0.0), 1.0)
        return 1.0 - (1.0 - self.reservation) * t ** (1.0 / self.concession)

    def choose(self, view: Mapping[str, Any]) -> str:
        """The move (without the answer tag) for one private view."""
        values, counts = view["values"], view["counts"]
        total = sum(v * c for v, c in zip(values, counts))
        worth = lambda share: sum(v * n for v, n in zip(values, share)) / total  # noqa: E731
        target = self.aspiration(view["turn"], view["max_turns"])
        offer = view.get("offer")
        last_move = view["turn"] + 1 >= view["max_turns"]
        if offer is not None and (worth(offer) >= target or (last_move and worth(offer) > 0)):
            return "accept"
        shares = [tuple(s) for s in itertools.product(*(range(c + 1) for c in counts))]
        acceptable = [s for s in shares if worth(s) >= target] or [tuple(counts)]
        best = min(acceptable, key=lambda s: (worth(s), sum(s), s))
        if self.short:
            return "propose " + " ".join(str(n) for n in best)
        return "propose " + " ".join(f"{name}={n}" for name, n in zip(view["item_names"], best))

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        outputs = []
        for item in inputs:
            view = item.info.get("negotiation")
            if view is None:
                raise ValueError(
                    "TimeDependentNegotiator plays bargaining envs only: info has no 'negotiation' view"
                )
            outputs.append(ActionOutput(text=wrap_answer(self.choose(view), self.tag)))
        return outputs
