"""Multi-agent rollouts: agentrl policies play PettingZoo envs, one trajectory per agent.

:func:`run_multiagent_episodes` is the multi-agent ``run_episodes``. It plays any PettingZoo AEC
env, any Parallel env (through PettingZoo's ``parallel_to_aec``) and any agentrl
:class:`~agentrl.envs.multiagent.base.MultiAgentTextEnv`, keeping several episodes live at once and
making one batched ``act`` call per policy per round. Give one policy for self-play, or a dict from
agent name to policy (a learner against a fixed opponent).

Rewards follow PettingZoo's semantics for ``last()``: an agent's turn is credited with everything
that agent received from its action up to its next turn, other agents' moves included, and its
final turn with what it received until the game ended. Every agent's trajectory is a complete
agentrl :class:`~agentrl.core.trajectory.Trajectory` (``group_id`` is ``"<spec group>/<agent>"``, so
group baselines compare an agent's role with itself), ready for the reward pipeline and learner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from agentrl.core.policy import ActionOutput, Policy, PolicyInput
from agentrl.rollout.spec import EpisodeSpec
from agentrl.core.trajectory import Trajectory, TrajectoryBatch, Turn
from agentrl.envs.multiagent.base import MultiAgentTextEnv
from agentrl.envs.multiagent.expose import TextAECEnv, TextParallelEnv
from agentrl.envs.multiagent.text_io import AgentIO, Renderer

MultiAgentEnv = AECEnv | ParallelEnv | MultiAgentTextEnv


@dataclass
class MultiAgentRolloutConfig:
    """How text is read from and written to envs without a native text interface."""

    format_penalty: float = -0.1
    """Reward for text that names no legal action (envs that parse text themselves apply their own)."""
    max_invalid_in_a_row: int = 3
    """Consecutive unreadable actions from one agent before the episode is cut (truncated)."""
    max_turns: int = 1000
    """Policy turns per episode, all agents together, before it is cut: a guard for endless games."""
    answer_tag: str | None = "answer"
    """Tag the action is read from in Discrete-action envs."""
    observation_mode: str = "text"
    """``text``: policies see text; ``dict``: ``{"text": ..., "raw": observation}`` (neural policies)."""

    def __post_init__(self) -> None:
        if self.observation_mode not in ("text", "dict"):
            raise ValueError(f"observation_mode must be 'text' or 'dict', got {self.observation_mode!r}")


def as_aec(env: MultiAgentEnv) -> AECEnv:
    """The AEC form of any supported multi-agent env."""
    if isinstance(env, AECEnv):
        return env
    if isinstance(env, TextParallelEnv):  # turn-based: only the mover acts, so play its AEC form
        return TextAECEnv(env.env)
    if isinstance(env, ParallelEnv):
        return parallel_to_aec(env)
    if isinstance(env, MultiAgentTextEnv):
        return TextAECEnv(env)
    kinds = "a PettingZoo AECEnv or ParallelEnv or an agentrl MultiAgentTextEnv"
    raise TypeError(f"expected {kinds}, got {type(env).__name__}")


@dataclass
class _Episode:
    """One live episode on one env, and each agent's trajectory so far."""

    env: AECEnv
    io: dict[str, AgentIO]
    key: int = 0
    spec: EpisodeSpec | None = None
    trajectories: dict[str, Trajectory] = field(default_factory=dict)
    pending: dict[str, Turn] = field(default_factory=dict)
    """Each agent's latest turn, waiting for the reward ``last()`` reports at its next turn."""
    steps: int = 0
    read_at: dict[str, int] = field(default_factory=dict)
    invalid_streak: dict[str, int] = field(default_factory=dict)
    error: dict[str, str] = field(default_factory=dict)
    turns: int = 0
    cut: bool = False
    """The episode was ended by the rollout (unreadable actions, turn guard, context limit)."""


def run_multiagent_episodes(
    envs: Sequence[MultiAgentEnv],
    policies: Policy | Mapping[str, Policy],
    specs: Sequence[EpisodeSpec],
    *,
    config: MultiAgentRolloutConfig | None = None,
    action_names: Sequence[str] | None = None,
    render: Renderer | None = None,
    on_episode: Callable[[list[Trajectory]], None] | None = None,
) -> TrajectoryBatch:
    """Play every spec to the end; returns one trajectory per agent, in spec order then agent order.

    ``action_names`` and ``render`` tell :class:`~agentrl.envs.multiagent.text_io.AgentIO` how to
    name Discrete actions and render observations of non-text envs.
    """
    if not envs:
        raise ValueError("run_multiagent_episodes needs at least one env")
    config = config or MultiAgentRolloutConfig()
    pending = list(enumerate(specs))[::-1]
    results: dict[int, list[Trajectory]] = {}
    episodes = [_Episode(env, {}) for env in map(as_aec, envs)]
    for episode in episodes:
        _start(episode, pending, config, action_names, render)
    while any(e.spec is not None for e in episodes):
        requests: list[tuple[_Episode, str, PolicyInput]] = []
        for episode in episodes:
            agent = _next_agent(episode)
            while agent is None and episode.spec is not None:
                results[episode.key] = _finish(episode)
                if on_episode is not None:
                    on_episode(results[episode.key])
                _start(episode, pending, config, action_names, render)
                agent = _next_agent(episode) if episode.spec is not None else None
            if agent is not None:
                requests.append((episode, agent, _policy_input(episode, agent, config)))
        for (episode, agent, seen), output in zip(requests, _act(policies, requests)):
            _play(episode, agent, seen, output, config)
    return TrajectoryBatch(t for key in range(len(specs)) for t in results[key])


def _policy_for(policies: Policy | Mapping[str, Policy], agent: str) -> Policy:
    if not isinstance(policies, Mapping):
        return policies
    if agent not in policies:
        raise KeyError(f"no policy for agent {agent!r}; policies are given for {', '.join(policies)}")
    return policies[agent]


def _act(
    policies: Policy | Mapping[str, Policy], requests: list[tuple[_Episode, str, PolicyInput]]
) -> list[ActionOutput]:
    """One batched ``act`` call per distinct policy over every agent waiting to move."""
    by_policy: dict[int, tuple[Policy, list[int]]] = {}
    for index, (_, agent, _) in enumerate(requests):
        policy = _policy_for(policies, agent)
        by_policy.setdefault(id(policy), (policy, []))[1].append(index)
    outputs: list[ActionOutput | None] = [None] * len(requests)
    for policy, indices in by_policy.values():
        answers = policy.act([requests[i][2] for i in indices])
        if len(answers) != len(indices):
            raise RuntimeError(f"policy returned {len(answers)} actions for {len(indices)} agents")
        for i, answer in zip(indices, answers):
            outputs[i] = answer
    return outputs  # type: ignore[return-value]


def _start(episode: _Episode, pending: list, config, action_names, render) -> None:
    if not pending:
        episode.spec = None
        return
    episode.key, episode.spec = pending.pop()
    env = episode.env
    env.reset(seed=episode.spec.seed, options=dict(episode.spec.options) or None)
    episode.io = {
        a: AgentIO(
            env.action_space(a), action_names=action_names, render=render, answer_tag=config.answer_tag
        )
        for a in env.agents
    }
    episode.pending, episode.steps, episode.turns, episode.cut = {}, 0, 0, False
    episode.read_at = dict.fromkeys(env.agents, -1)
    episode.invalid_streak = dict.fromkeys(env.agents, 0)
    episode.error = dict.fromkeys(env.agents, "")
    task_id = (
        str(env.infos[env.agents[0]].get("task_id", ""))
        or episode.spec.group_id
        or f"seed-{episode.spec.seed}"
    )
    episode.trajectories = {
        agent: Trajectory(
            task_id=task_id,
            group_id=f"{episode.spec.group_id or task_id}/{agent}",
            instructions=_instructions(env, episode.io[agent], agent),
            info={
                "agent": agent,
                "seed": episode.spec.seed,
                "env": str(env.unwrapped),
                "episode": episode.key,
            },
        )
        for agent in env.agents
    }


def _instructions(env: AECEnv, io: AgentIO, agent: str) -> str:
    native = getattr(env, "instructions", None)
    return native(agent) if callable(native) else io.instructions(agent)


def _next_agent(episode: _Episode) -> str | None:
    """Credit rewards, retire finished agents, and return the agent to move (``None``: game over)."""
    env = episode.env
    while env.agents and not episode.cut:
        agent = env.agent_selection
        _, reward, terminated, truncated, info = env.last(observe=False)
        if episode.read_at[agent] != episode.steps:  # each reward window is read exactly once
            episode.read_at[agent] = episode.steps
            _credit(episode, agent, float(reward), info, bool(terminated), bool(truncated))
        if not (terminated or truncated):
            return agent
        env.step(None)
        episode.steps += 1
    return None


def _credit(
    episode: _Episode, agent: str, reward: float, info: dict, terminated: bool, truncated: bool
) -> None:
    trajectory = episode.trajectories[agent]
    turn = episode.pending.pop(agent, None)
    if turn is None:  # a reward before the agent's first move: keep it visible rather than drop it
        if reward:
            trajectory.info["unassigned_reward"] = trajectory.info.get("unassigned_reward", 0.0) + reward
    else:
        turn.reward = reward
        turn.reward_components = dict(info.get("reward_components") or {"env": reward})
        turn.info = {"action_valid": True, **info}
        turn.terminated, turn.truncated = terminated, truncated and not terminated
    if terminated or truncated:
        trajectory.info["final_info"] = info
        trajectory.final_observation = episode.env.observe(agent)


def _policy_input(episode: _Episode, agent: str, config: MultiAgentRolloutConfig) -> PolicyInput:
    env = episode.env
    observation, _, _, _, info = env.last()
    io = episode.io[agent]
    text = io.text(observation, info)
    choices = io.available_actions(observation, info)
    if choices is not None:  # as single-agent envs do, so RandomPolicy and menu-based policies work
        info = {**info, "available_actions": choices}
    if episode.error[agent]:
        text = f"{episode.error[agent]}\n{text}"
    seen: Any = text if config.observation_mode == "text" else {"text": text, "raw": observation}
    trajectory = episode.trajectories[agent]
    agents = list(episode.trajectories)
    return PolicyInput(
        observation=seen,
        instructions=trajectory.instructions,
        history=trajectory.turns,
        info=info,
        episode_key=episode.key * len(agents) + agents.index(agent),
    )


def _play(
    episode: _Episode, agent: str, seen: PolicyInput, output: ActionOutput, config: MultiAgentRolloutConfig
) -> None:
    env, trajectory = episode.env, episode.trajectories[agent]
    if output.context_exhausted:
        trajectory.context_truncated = True
        _cut(episode)
        return
    observation, _, _, _, info = env.last()
    action, error = episode.io[agent].decode(output.text, observation, info)
    turn = Turn(
        observation=seen.observation,
        action=output.text,
        token_ids=list(output.token_ids),
        logprobs=list(output.logprobs),
        loss_mask=list(output.loss_mask),
        new_context=output.new_context,
        generation_truncated=output.generation_truncated,
    )
    trajectory.turns.append(turn)
    episode.turns += 1
    if error is not None:
        turn.reward = config.format_penalty
        turn.reward_components = {"format": config.format_penalty}
        turn.info = {"action_valid": False, "error": error}
        episode.error[agent] = f"Invalid action: {error}. {episode.io[agent].format.instructions()}"
        episode.invalid_streak[agent] += 1
    else:
        episode.error[agent], episode.invalid_streak[agent] = "", 0
        episode.pending[agent] = turn
        env.step(action)
        episode.steps += 1
    if episode.invalid_streak[agent] >= config.max_invalid_in_a_row or episode.turns >= config.max_turns:
        _cut(episode)


def _cut(episode: _Episode) -> None:
    """End the episode here for every agent (truncated); turns still waiting get no further reward."""
    episode.cut = True
    for agent, trajectory in episode.trajectories.items():
        turn = episode.pending.pop(agent, None)
        if turn is not None:
            turn.info = {"action_valid": True}
        if trajectory.turns and not (trajectory.turns[-1].terminated or trajectory.turns[-1].truncated):
            trajectory.turns[-1].truncated = True
        trajectory.info.setdefault("final_info", {})
        trajectory.info["cut_by_rollout"] = True


def _finish(episode: _Episode) -> list[Trajectory]:
    """Success and outcome from each agent's final info (``outcome``, else ``success``, else its return)."""
    for trajectory in episode.trajectories.values():
        info = trajectory.info.get("final_info", {})
        trajectory.success = bool(info.get("success", False))
        if "outcome" in info:
            trajectory.outcome = float(info["outcome"])
        else:
            trajectory.outcome = float(trajectory.success) if "success" in info else trajectory.total_reward
    return list(episode.trajectories.values())
