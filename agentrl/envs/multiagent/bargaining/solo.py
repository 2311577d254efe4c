"""``agentrl/Bargaining-v0``: the bargaining game as a single-agent Gymnasium env.

The agent plays one side against a built-in scripted negotiator
(:class:`~agentrl.envs.multiagent.bargaining.negotiators.TimeDependentNegotiator`), which moves
inside ``step`` right after the agent. The reward is the verifiable one: at the end, component
``deal`` is the agent's normalised score (0 without a deal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from agentrl.core.env import RewardBounds, TextEnv, TextEnvConfig, Transition
from agentrl.envs.multiagent.bargaining import text
from agentrl.envs.multiagent.bargaining.game import (
    PLAYERS,
    Negotiation,
    ScenarioConfig,
    sample_scenario,
)
from agentrl.envs.multiagent.bargaining.negotiators import TimeDependentNegotiator

ROLES = ("player_0", "player_1", "random")


@dataclass
class BargainingSoloConfig(TextEnvConfig):
    max_turns: int = 5
    """Your moves before the game ends with no deal (truncation); the opponent moves in between."""
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    """How item counts and private values are drawn."""
    opponent: str = "linear"
    """Concession tactic of the scripted opponent: ``conceder``, ``linear`` or ``boulware``."""
    opponent_reservation: float = 0.3
    """Share of the pool's value below which the opponent never goes (before the last move)."""
    role: str = "player_0"
    """Your side: ``player_0`` (moves first), ``player_1``, or ``random`` (drawn each episode)."""
    short_expert: bool = False
    """The built-in expert writes proposals in the short form (``propose 1 0 2``), which a small
    model imitates with fewer tokens."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")


class BargainingSoloEnv(TextEnv):
    """Split a pool of items with a scripted negotiator; both have private values."""

    Config = BargainingSoloConfig
    config: BargainingSoloConfig

    def __init__(self, config: BargainingSoloConfig | Mapping[str, Any] | None = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        self.opponent = TimeDependentNegotiator(
            self.config.opponent, self.config.opponent_reservation, tag=None
        )
        self.game: Negotiation | None = None
        self.player = 0
        self._moves = 0
        self._news: list[str] = []

    @property
    def max_moves(self) -> int:
        """Moves in the whole game: the agent's turn limit, times two players."""
        return 2 * self.config.max_turns

    def reset_state(self, seed: int | None, options: Mapping[str, Any]) -> None:
        self.game = Negotiation(sample_scenario(self.np_random, self.config.scenario))
        role = self.config.role if self.config.role != "random" else PLAYERS[int(self.np_random.integers(2))]
        self.player, self._moves, self._news = PLAYERS.index(role), 0, []
        if self.player == 1:
            self._opponent_moves()

    def step_action(self, action: str) -> Transition:
        game = self._game()
        error = game.play(self.player, action)
        if error is not None:
            return Transition(valid=False, message=error)
        self._moves += 1
        self._news = [game.transcript[-1]]
        if not game.ended and self._moves < self.max_moves:
            self._opponent_moves()
        if not game.ended:
            return Transition()
        return Transition(
            reward_components={"deal": game.score(self.player)},
            terminated=True,
            info={"outcome": game.score(self.player)},
        )

    def _opponent_moves(self) -> None:
        game = self._game()
        opponent = 1 - self.player
        move = self.opponent.choose(text.view(game, opponent, moves=self._moves, max_moves=self.max_moves))
        error = game.play(opponent, move)
        if error is not None:
            raise RuntimeError(f"the scripted opponent made an invalid move {move!r}: {error}")
        self._moves += 1
        self._news.append(game.transcript[-1])

    def render_text(self) -> str:
        game = self._game()
        to_move = None if game.ended or self._moves >= self.max_moves else self.player
        state = text.state_text(
            game, self.player, moves=self._moves, max_moves=self.max_moves, to_move=to_move
        )
        return "\n".join(self._news + [state])

    def is_success(self) -> bool:
        game = self._game()
        return game.deal is not None and game.score(self.player) > 0

    def reward_bounds(self) -> RewardBounds:
        """Per turn: the format penalty, or the final ``deal`` score in [0, 1] (0 without a deal).
        Per episode: every turn penalised, or one deal's score."""
        penalty = self.config.format_penalty
        return RewardBounds(step=(penalty, 1.0), episode=(self.config.max_turns * penalty, 1.0))

    def task_id_for(self, seed: int | None) -> str:
        return f"bargaining-{PLAYERS[self.player]}-seed{seed}"

    def instructions(self) -> str:
        return text.rules(
            self.player,
            self.config.scenario.item_names,
            self.max_moves,
            goals=False,
            answer_format=self.config.action_format.instructions(),
        )

    def extra_info(self) -> dict[str, Any]:
        return {"negotiation": text.view(self._game(), self.player, moves=self._moves, max_moves=self.max_moves)}

    def expert_policy(self) -> TimeDependentNegotiator:
        """The opponent's own tactic, playing the agent's side (it reads ``info["negotiation"]``)."""
        return TimeDependentNegotiator(
            self.config.opponent,
            self.config.opponent_reservation,
            tag=self.config.action_format.answer_tag,
            short=self.config.short_expert,
        )

    def _game(self) -> Negotiation:
        if self.game is None:
            raise RuntimeError("call reset() before using the game")
        return self.game
