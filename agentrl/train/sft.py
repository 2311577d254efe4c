"""Supervised warm start from expert demonstrations (SFT before RL).

No pretrained weights are reachable offline, so a run first imitates the env's expert. The
demonstrator is the expert with ``epsilon``-random moves; every visited state is labelled with the
expert's own move, so the student also sees how to recover from mistakes (DAgger-style labels).
"""

from __future__ import annotations

import random
from typing import Sequence

import torch

from agentrl.core.policy import ActionOutput, Policy, PolicyInput
from agentrl.rollout import grouped_specs, run_episodes
from agentrl.core.trajectory import Trajectory
from agentrl.train.config import SFTConfig
from agentrl.train.learner import NonFiniteLossError
from agentrl.train.losses import masked_mean
from agentrl.train.parallel import SingleProcess
from agentrl.train.schedules import cosine_decay


class LabellingDemonstrator:
    """Plays the expert with probability 1 - epsilon (else a random listed action) and records
    the expert's choice for every state as the label."""

    def __init__(self, expert: Policy, epsilon: float, seed: int):
        self.expert = expert
        self.epsilon = epsilon
        self.seed = seed
        self.labels: dict[tuple[int, int], str] = {}

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        expert_outputs = self.expert.act(inputs)
        outputs = []
        for item, output in zip(inputs, expert_outputs):
            turn = len(item.history)
            self.labels[(item.episode_key, turn)] = output.text
            choices = item.info.get("available_actions")
            # one generator per (episode, turn): the demonstrations do not depend on how many
            # episodes are played at once
            rng = random.Random(self.seed * 1_000_003 + item.episode_key * 7_919 + turn)
            if choices and rng.random() < self.epsilon:
                output = ActionOutput(text=f"<answer>{rng.choice(list(choices))}</answer>")
            outputs.append(output)
        return outputs


def collect_demonstrations(envs, expert: Policy, config: SFTConfig, *, full_context: bool, run_seed: int = 0,
                           parallel: SingleProcess | None = None) -> list[tuple[Trajectory, list[str | None]]]:
    """Expert episodes with per-turn labels. With a full multi-turn context the history must be
    what was really played, so turns where the demonstrator deviated get no label.

    The demonstration tasks and the demonstrator's random moves depend on ``run_seed`` too, so
    different run seeds learn from different demonstrations."""
    epsilon = 0.0 if full_context else config.relabel_epsilon
    first = config.demo_seed + run_seed * 100_000
    demonstrator = LabellingDemonstrator(expert, epsilon, seed=first)
    seeds = list(range(first, first + config.episodes))
    specs = grouped_specs((parallel or SingleProcess()).shard(seeds), 1)
    batch = run_episodes(envs, demonstrator, specs)
    demos = []
    for key, trajectory in enumerate(batch):
        labels = [demonstrator.labels.get((key, index)) for index in range(len(trajectory.turns))]
        if full_context:
            labels = [label if label == turn.action else None for label, turn in zip(labels, trajectory.turns)]
        demos.append((trajectory, labels))
    return demos


def lr_factor(config: SFTConfig, step: int) -> float:
    """The learning-rate multiplier at ``step``: 1, or linear warm-up then cosine decay to 0."""
    if config.lr_schedule == "constant":
        return 1.0
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    return cosine_decay(step - config.warmup_steps, config.steps - config.warmup_steps)


def supervised_finetune(agent, units: list, config: SFTConfig, *, seed: int, progress=None,
                        parallel: SingleProcess | None = None) -> list[float]:
    """Maximise the log-likelihood of the label tokens; returns the loss per step."""
    parallel = parallel or SingleProcess()
    if not units:
        raise ValueError("no demonstration units to train on (did the expert produce any labelled turns?)")
    optimizer = torch.optim.AdamW(agent.parameters(), lr=config.lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(config, step))
    rng = random.Random(seed)
    losses = []
    for _ in range(config.steps):
        batch = rng.sample(units, min(config.batch_size, len(units)))
        scores = agent.score(batch)
        loss = -masked_mean(scores.logprobs, scores.mask)
        if parallel.max(int(not torch.isfinite(loss))):
            raise NonFiniteLossError(f"non-finite SFT loss {loss.item()}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        parallel.all_reduce_gradients(agent.parameters())
        torch.nn.utils.clip_grad_norm_(agent.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{loss.item():.3f}")
    agent.sync()
    return losses
