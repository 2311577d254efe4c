"""The two-player bargaining game as a native multi-agent text env (rules in ``game.py``).

``reward="value"`` (default) is the verifiable game: each player's reward at the end is its
normalised score (component ``deal``). ``reward="judge"`` is the unverifiable variant: players get
goals in words and a judge scores the outcome (component ``judge``; see ``goals.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from gymnasium import spaces

from agentrl.core.config import ConfigError
from agentrl.core.spaces import TextSpace
from agentrl.envs.multiagent.bargaining import text
from agentrl.envs.multiagent.bargaining.game import (
    PLAYERS,
    Negotiation,
    Scenario,
    ScenarioConfig,
    pareto_optimal,
    sample_scenario,
)
from agentrl.envs.multiagent.bargaining.goals import Goal, draw_goals, judged_scores
from agentrl.envs.multiagent.base import Move, MultiAgentTextEnv, MultiAgentTextEnvConfig, Rewards
from agentrl.judges import make_judge

REWARD_MODES = ("value", "judge")


class MoveSpace(TextSpace):
    """Any text is a member; ``sample()`` draws moves a player could make, and some junk.

    Conformance tests (``check_env``, PettingZoo's ``api_test``) play sampled actions, so samples
    that are real moves let them reach deals and walk-aways, not only the turn limit.
    """

    def __init__(self, scenario: ScenarioConfig, max_length: int, tag: str | None):
        super().__init__(max_length)
        self.scenario, self.tag = scenario, tag

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is not None or probability is not None:
            return super().sample(mask, probability)
        draw = self.np_random.random()
        if draw < 0.1:
            return super().sample()
        if draw < 0.3:
            move = "accept"
        elif draw < 0.35:
            move = "walk away"
        else:
            most = self.scenario.max_items - len(self.scenario.item_names) + 1
            move = "propose " + " ".join(
                f"{name}={int(self.np_random.integers(0, most + 1))}" for name in self.scenario.item_names
            )
        return f"<{self.tag}>{move}</{self.tag}>" if self.tag else move


@dataclass
class BargainingConfig(MultiAgentTextEnvConfig):
    max_turns: int = 10
    """Moves (both players together) before the game ends with no deal (truncation)."""
    message_tag: str | None = "message"
    """Tag for free text shown to the other player; ``None`` disables talk."""
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    """How item counts and private values are drawn."""
    reward: str = "value"
    """``value``: verifiable score of the deal; ``judge``: goals in words, scored by a judge."""
    judge: Any = None
    """The judge for ``reward="judge"``: ``"oracle"`` (exact), ``{"type": "openai", ...}``,
    ``{"type": "hf", ...}`` or a ``Judge`` object (see ``agentrl.judges``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reward not in REWARD_MODES:
            raise ValueError(f"reward must be one of {REWARD_MODES}, got {self.reward!r}")
        if self.reward == "judge" and self.judge is None:
            raise ValueError(
                "reward='judge' needs a judge, for example judge='oracle' or judge={'type': 'openai', ...}"
            )


class BargainingEnv(MultiAgentTextEnv):
    """Two players split a pool of items they value differently and privately."""

    Config = BargainingConfig
    config: BargainingConfig
    possible_agents = PLAYERS
    metadata = {"render_modes": ["ansi"], "name": "bargaining_v0"}

    def __init__(self, config: BargainingConfig | Mapping[str, Any] | None = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        self.judge = make_judge(self.config.judge) if self.config.reward == "judge" else None
        self.game: Negotiation | None = None
        self.goals: dict[str, list[Goal]] = {}
        self.verdicts: dict[str, bool] = {}
        """The judge's verdict on each goal, once a ``reward="judge"`` game has ended."""
        self._final_action = ""
        self._judged: dict[str, float] = {}

    # ------------------------------------------------------------------ hooks
    def reset_state(self, seed: int | None, options: Mapping[str, Any]) -> None:
        """``options["scenario"]`` (a :class:`Scenario`) replays a fixed draw instead of sampling one."""
        scenario = options.get("scenario")
        if scenario is not None and not isinstance(scenario, Scenario):
            raise ConfigError(
                f"options['scenario'] must be a bargaining Scenario, got {type(scenario).__name__}"
            )
        self.game = Negotiation(scenario or sample_scenario(self.np_random, self.config.scenario))
        self.verdicts = {}
        self.goals = {p: draw_goals(self.game.scenario, i) for i, p in enumerate(PLAYERS)}
        self._final_action = ""
        self._judged = {}

    def apply_move(self, agent: str, action: str) -> Move:
        game = self._game()
        error = game.play(PLAYERS.index(agent), action)
        if error is not None:
            return Move(valid=False, message=error)
        self._final_action = action
        return Move(event=game.transcript[-1], terminated=game.ended)

    def final_rewards(self, truncated: bool) -> Rewards:
        game = self._game()
        if self.config.reward == "value":
            return {p: {"deal": game.score(i)} for i, p in enumerate(PLAYERS)}
        assert self.judge is not None
        self._judged, self.verdicts = judged_scores(
            self.judge,
            game.scenario,
            self.goals,
            game.deal,
            transcript=self.transcript(),
            final_move=self._final_action,
            outcome=game.outcome_text(),
            task=self.task_description(),
        )
        return {p: {"judge": self._judged[p]} for p in PLAYERS}

    def is_success(self, agent: str) -> bool:
        if self.config.reward == "judge":
            return self._judged.get(agent, 0.0) == 1.0
        game = self._game()
        return game.deal is not None and game.score(PLAYERS.index(agent)) > 0

    def move_space(self) -> MoveSpace:
        return MoveSpace(
            self.config.scenario, self.config.max_action_chars, self.config.action_format.answer_tag
        )

    def feature_space(self) -> spaces.Box:
        k = len(self.config.scenario.item_names)
        scenario = self.config.scenario
        high = max(scenario.max_items, scenario.total_value, self.config.max_turns)
        return spaces.Box(-1, high, shape=(3 * k + 4,), dtype=np.int64)

    def features(self, agent: str) -> np.ndarray:
        """Counts, own values, offer to me (-1 if none), my offer stands, turn, max turns, my move."""
        view = self.view(agent)
        offer = view["offer"] if view["offer"] is not None else [-1] * len(view["counts"])
        flags = [
            int(view["my_offer_stands"]),
            view["turn"],
            view["max_turns"],
            int(agent == self.current_agent),
        ]
        return np.asarray(view["counts"] + view["values"] + offer + flags, dtype=np.int64)

    def progress(self, agent: str) -> float:
        if self.config.reward == "judge":
            return self._judged.get(agent, 0.0)
        return self._game().score(PLAYERS.index(agent))

    def agent_info(self, agent: str) -> dict[str, Any]:
        game, player = self._game(), PLAYERS.index(agent)
        info: dict[str, Any] = {"negotiation": self.view(agent)}
        if not self.agents:  # the episode is over
            info["outcome"] = (
                self._judged.get(agent, 0.0) if self.config.reward == "judge" else game.score(player)
            )
            info["deal"] = {p: list(game.deal[i]) for i, p in enumerate(PLAYERS)} if game.deal else None
            info["pareto_optimal"] = bool(game.deal and pareto_optimal(game.scenario, game.deal[0]))
        return info

    # ------------------------------------------------------------------ text
    def instructions(self, agent: str) -> str:
        names = self.game.scenario.item_names if self.game else self.config.scenario.item_names
        return text.rules(
            PLAYERS.index(agent),
            names,
            self.config.max_turns,
            goals=self.config.reward == "judge",
            answer_format=self.config.action_format.instructions(),
            message_tag=self.config.message_tag,
        )

    def render_for(self, agent: str) -> str:
        player = PLAYERS.index(agent)
        to_move = PLAYERS.index(self.current_agent) if self.agents else None
        scenario = self._game().scenario
        goals = [goal.text(scenario) for goal in self.goals[agent]] if self.config.reward == "judge" else None
        return text.state_text(
            self._game(),
            player,
            moves=self.turn,
            max_moves=self.config.max_turns,
            to_move=to_move,
            goals=goals,
        )

    def view(self, agent: str) -> dict[str, Any]:
        """``agent``'s private view as data (``info["negotiation"]``), for scripted negotiators."""
        return text.view(self._game(), PLAYERS.index(agent), moves=self.turn, max_moves=self.config.max_turns)

    def task_description(self) -> str:
        """The game and every player's goals, one ``- player_k: ...`` line each (for ``Judge.decompose``)."""
        scenario = self._game().scenario
        lines = [f"Bargaining over {scenario.describe_share(scenario.counts)}. Goals:"]
        lines += [f"- {goal.text(scenario)}" for agent in PLAYERS for goal in self.goals[agent]]
        return "\n".join(lines)

    def _game(self) -> Negotiation:
        if self.game is None:
            raise RuntimeError("call reset() before using the game")
        return self.game
