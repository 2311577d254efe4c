"""The unverifiable-reward variant: goals in words, scored by a ``Judge``.

With ``reward="judge"`` the players see no numbers, only goals such as "get at least 2 hats".
Whether the final deal meets each goal is decided by a judge from the reward pipeline
(:mod:`agentrl.judges`), called once when the game ends::

    judge.judge(transcript, final_move, outcome_text, goals, task=task_description, info=info)

``goals`` lists every player's goals, written ``"player_0: get at least 2 hats"``. A player's
reward is the fraction of its goals the judge says are met. A language-model judge (``HFJudge``,
``OpenAIJudge``) reads the texts. ``info["subgoals"]`` carries the env's own check of each goal, so
``OracleJudge`` gives the exact verdicts -- the reference an LLM judge can be measured against.
A judge that fails raises :class:`~agentrl.judges.JudgeError`; it is never a silent 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from agentrl.envs.multiagent.bargaining.game import PLAYERS, Scenario
from agentrl.judges import Judge, JudgeError


def plural(name: str) -> str:
    return name + ("es" if name.endswith(("s", "x", "ch", "sh")) else "s")


@dataclass(frozen=True)
class Goal:
    """One player's goal about its final share of one item type."""

    player: int
    kind: str
    """``at_least``: keep at least ``count`` of the item; ``more``: keep more of it than the other."""
    item: int
    count: int = 0

    def text(self, scenario: Scenario) -> str:
        name = plural(scenario.item_names[self.item])
        if self.kind == "at_least":
            return f"{PLAYERS[self.player]}: get at least {self.count} {name}"
        return f"{PLAYERS[self.player]}: get more {name} than the other player"

    def met(self, deal: tuple[tuple[int, ...], tuple[int, ...]] | None) -> bool:
        if deal is None:
            return False
        mine, theirs = deal[self.player][self.item], deal[1 - self.player][self.item]
        return mine >= self.count if self.kind == "at_least" else mine > theirs


def draw_goals(scenario: Scenario, player: int) -> list[Goal]:
    """Two goals that follow the player's hidden values: half of its favourite item, and a majority
    of its second favourite."""
    values = scenario.values[player]
    favourite, second = sorted(range(len(values)), key=lambda i: (-values[i], i))[:2]
    need = max(1, math.ceil(scenario.counts[favourite] / 2))
    return [Goal(player, "at_least", favourite, need), Goal(player, "more", second)]


def judged_scores(
    judge: Judge,
    scenario: Scenario,
    goals: dict[str, list[Goal]],
    deal,
    *,
    transcript: str,
    final_move: str,
    outcome: str,
    task: str,
) -> tuple[dict[str, float], dict[str, bool]]:
    """Each player's fraction of goals met according to ``judge``, and the verdicts by goal text."""
    texts = {goal.text(scenario): goal for player_goals in goals.values() for goal in player_goals}
    info: dict[str, Any] = {"subgoals": {text: goal.met(deal) for text, goal in texts.items()}}
    verdicts = judge.judge(transcript, final_move, outcome, list(texts), task=task, info=info)
    missing = [text for text in texts if text not in verdicts]
    if missing:
        raise JudgeError(f"{type(judge).__name__} gave no verdict for {missing}; it answered {verdicts!r}")
    scores = {
        player: sum(bool(verdicts[g.text(scenario)]) for g in player_goals) / len(player_goals)
        for player, player_goals in goals.items()
    }
    return scores, {text: bool(verdicts[text]) for text in texts}
