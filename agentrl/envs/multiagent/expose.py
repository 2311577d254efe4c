"""agentrl multi-agent envs as PettingZoo envs, both APIs.

:class:`TextAECEnv` is the AEC view: ``agent_selection`` is the agent to move, and ``last()`` returns
the reward accumulated since that agent last moved, as PettingZoo specifies. The reward components
in ``infos[agent]["reward_components"]`` accumulate over the same window, so they always sum to the
reward ``last()`` reports.

:class:`TextParallelEnv` is the Parallel view, with PettingZoo's convention for turn-based games
(as in its ``turn_based_aec_to_parallel``): every live agent may send an action each step, and only
the action of the agent to move is played; each observation says whose move it is.
"""

from __future__ import annotations

from typing import Any

from pettingzoo import AECEnv, ParallelEnv

from agentrl.envs.multiagent.base import MultiAgentTextEnv


class _Wrapped:
    """What both views share: the wrapped env's attributes, spaces, rendering and instructions."""

    def __init__(self, env: MultiAgentTextEnv):
        self.env = env
        self.metadata = {**env.metadata, "is_parallelizable": True}
        self.render_mode = env.render_mode
        self.possible_agents = list(env.possible_agents)
        self.agents: list[str] = []

    def observation_space(self, agent: str):
        return self.env.observation_space(agent)

    def action_space(self, agent: str):
        return self.env.action_space(agent)

    def render(self) -> str | None:
        return self.env.render()

    def close(self) -> None:
        self.env.close()

    def instructions(self, agent: str) -> str:
        return self.env.instructions(agent)


class TextAECEnv(_Wrapped, AECEnv):
    """A :class:`MultiAgentTextEnv` behind PettingZoo's AEC API."""

    def __init__(self, env: MultiAgentTextEnv):
        super().__init__(env)
        self._observations: dict[str, str] = {}
        self._components: dict[str, dict[str, float]] = {}

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        self._observations, infos = self.env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self._components = {agent: {} for agent in self.agents}
        self.infos = {agent: infos[agent] for agent in self.agents}
        self.agent_selection = self.env.current_agent

    def observe(self, agent: str) -> str:
        return self._observations[agent]

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0.0
        self._components[agent] = {}
        self._observations, rewards, terminations, truncations, infos = self.env.step(action)
        for name in self.agents:
            self.rewards[name] = rewards[name]
            self.terminations[name] = terminations[name]
            self.truncations[name] = truncations[name]
            window = self._components[name]
            for key, value in infos[name].get("reward_components", {}).items():
                window[key] = window.get(key, 0.0) + value
            self.infos[name] = {**infos[name], "reward_components": dict(window)}
        self._accumulate_rewards()
        if any(terminations.values()) or any(truncations.values()):
            self._deads_step_first()
        else:
            self.agent_selection = self.env.current_agent


class TextParallelEnv(_Wrapped, ParallelEnv):
    """A :class:`MultiAgentTextEnv` behind PettingZoo's Parallel API (turn-based convention)."""

    def reset(self, seed: int | None = None, options: dict | None = None):
        observations, infos = self.env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        return observations, infos

    def step(self, actions: dict[str, Any]):
        mover = self.env.current_agent
        if mover not in actions:
            raise KeyError(f"it is {mover}'s move: actions must include {mover!r} (got {sorted(actions)})")
        live = list(self.agents)
        observations, rewards, terminations, truncations, infos = self.env.step(actions[mover])
        self.agents = list(self.env.agents)
        pick = lambda values: {agent: values[agent] for agent in live}  # noqa: E731
        return pick(observations), pick(rewards), pick(terminations), pick(truncations), pick(infos)
