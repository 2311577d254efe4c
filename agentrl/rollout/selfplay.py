"""Self-play as a rollout backend: the trainer's ``run_episodes(policy, specs)`` over a multi-agent env.

:class:`SelfPlayBackend` has the contract of the other rollout backends (``run_episodes``,
``metrics``, ``close``), so a learner that trains on a :class:`~agentrl.core.trajectory.TrajectoryBatch`
trains on self-play unchanged: each spec is one game, every seat is played by the learner's policy,
and every seat's trajectory comes back (group ids ``"<spec group>/<agent>"``, so group baselines
compare a seat with itself). Seats listed in ``opponents`` are played by fixed policies instead and
their trajectories are left out: the learner trains on its own moves only.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from agentrl.core.policy import Policy
from agentrl.rollout.spec import EpisodeSpec
from agentrl.core.trajectory import Trajectory, TrajectoryBatch
from agentrl.rollout.multiagent import MultiAgentEnv, MultiAgentRolloutConfig, run_multiagent_episodes


class SelfPlayBackend:
    """Plays ``make_env()`` games with the learner in every seat not taken by an opponent."""

    def __init__(
        self,
        make_env: Callable[[], MultiAgentEnv],
        num_envs: int = 8,
        *,
        opponents: Mapping[str, Policy] | None = None,
        config: MultiAgentRolloutConfig | None = None,
    ):
        if num_envs < 1:
            raise ValueError("num_envs must be >= 1")
        self.envs = [make_env() for _ in range(num_envs)]
        self.agents = list(self.envs[0].possible_agents)
        self.opponents = dict(opponents or {})
        unknown = sorted(set(self.opponents) - set(self.agents))
        if unknown:
            raise KeyError(f"opponents for unknown agents {unknown}; the agents are {', '.join(self.agents)}")
        self.config = config
        self.metrics: dict[str, float] = {"selfplay/games": 0, "selfplay/trajectories": 0}

    def run_episodes(
        self,
        policy: Policy,
        specs: Sequence[EpisodeSpec],
        *,
        on_episode: Callable[[Trajectory], None] | None = None,
    ) -> TrajectoryBatch:
        seats = {agent: self.opponents.get(agent, policy) for agent in self.agents}
        played = run_multiagent_episodes(self.envs, seats, specs, config=self.config)
        batch = TrajectoryBatch(t for t in played if t.info["agent"] not in self.opponents)
        if on_episode is not None:
            for trajectory in batch:
                on_episode(trajectory)
        self.metrics["selfplay/games"] += len(specs)
        self.metrics["selfplay/trajectories"] += len(batch)
        for agent in sorted({t.info["agent"] for t in played}):
            mine = [t.outcome for t in played if t.info["agent"] == agent]
            batch.metrics[f"selfplay/mean_outcome/{agent}"] = sum(mine) / len(mine)
        return batch

    def close(self) -> None:
        for env in self.envs:
            env.close()
