"""The learner: clipped policy-gradient updates on per-turn advantages (PPO / GRPO-style).

Reads top to bottom: minibatches are split into micro-batches whose gradients accumulate, and one
optimizer step follows each minibatch. In :meth:`Learner.loss`, each turn's advantage is spread over
the tokens the policy generated in that turn (:func:`spread_turn_advantages`: env tokens get none),
then the loss is the clipped surrogate, plus a KL penalty to a frozen reference, an entropy bonus and
a value loss when a value head is trained.

Versions and off-policy data. :attr:`Learner.version` counts :meth:`Learner.update` calls (one per
RL iteration, whatever the number of optimizer steps inside): the weights synced to the acting
policy after update ``k`` are version ``k``. ``update(..., max_staleness=k)`` never trains on a
trajectory with a turn sampled more than ``k`` versions ago (skipped and counted). With
``rl.importance_correction`` set to ``tis`` or ``decoupled``, the update first scores every
micro-batch with the weights it starts from (the *proximal* policy, no gradient), then clips the
ratio against those log-probs and weights each token by ``pi_prox / pi_behav`` (see
:mod:`agentrl.train.losses`). The micro-batches of the first optimizer step need no extra pass:
before that step the weights *are* the proximal policy, so their own log-probs (detached) serve.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from agentrl.core.trajectory import Trajectory
from agentrl.rollout.versions import is_fresh, staleness_stats
from agentrl.train.advantages import Advantages
from agentrl.train.agents import Agent
from agentrl.train.config import RLConfig
from agentrl.train.losses import clipped_policy_loss, kl_to_reference, masked_mean, off_policy_weights, value_loss
from agentrl.train.parallel import SingleProcess
from agentrl.train.schedules import cosine_decay


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; training stops and the last good checkpoint is kept."""


class Learner:
    def __init__(self, agent: Agent, config: RLConfig, *, seed: int = 0, parallel: SingleProcess | None = None):
        self.agent = agent
        self.config = config
        self.parallel = parallel or SingleProcess()
        self.optimizer = torch.optim.AdamW(agent.parameters(), lr=config.lr, weight_decay=0.0)
        self.generator = torch.Generator().manual_seed(seed)
        self.version = 0
        """Updates done so far (see module docstring)."""

    def update(self, trajectories: Sequence[Trajectory], advantages: Advantages, *, seed: int,
               max_staleness: int | None = None) -> dict[str, float]:
        """Optimise on one batch; returns averaged statistics. With ``max_staleness``, trajectories
        with a turn more than that many versions older than :attr:`version` are left out."""
        self.generator.manual_seed(seed)
        targets = _per_turn_targets(trajectories, advantages)
        fresh = [t for t in trajectories if max_staleness is None or is_fresh(t, self.version, max_staleness)]
        info = {f"learner/{k}": v for k, v in staleness_stats(fresh, self.version).items()}
        info["learner/stale_skipped"] = float(len(trajectories) - len(fresh))
        info["learner/trained_tokens"] = float(sum(sum(turn.loss_mask) for t in fresh for turn in t.turns))
        units = self.agent.units(fresh)
        # Every rank must take the same number of optimizer steps (gradients are averaged at each).
        steps = self.parallel.max(math.ceil(len(units) / self.config.minibatch_size))
        self.version += 1
        for group in self.optimizer.param_groups:  # from the version: a resumed run gets the same rate
            group["lr"] = self.learning_rate(self.version)
        if steps == 0:
            return {"learner/updates": 0.0, **info}
        plan = self._plan(units, steps)
        correct = self.config.importance_correction != "none"
        proximal = self._proximal(plan) if correct else [[None] * len(chunks) for chunks in plan]
        history: dict[str, list[float]] = {}
        for chunks, step_proximal in zip(plan, proximal):
            for key, value in self._step(chunks, targets, step_proximal, correct).items():
                history.setdefault(key, []).append(value)
        stats = {f"learner/{k}": _combine(k, v) for k, v in history.items()}
        stats["learner/updates"] = float(len(history.get("loss", [])))
        return {**stats, **info}

    def learning_rate(self, version: int) -> float:
        """The learning rate of update ``version`` (1 for the first): a linear warm-up over
        ``rl.warmup_iterations``, then ``rl.lr`` (``constant``) or a cosine from ``rl.lr`` that would
        reach 0 one update after the last iteration (``cosine``)."""
        cfg = self.config
        warmup = cfg.warmup_iterations
        if warmup > 0 and version < warmup:
            return cfg.lr * version / warmup
        if cfg.lr_schedule == "constant":
            return cfg.lr
        peak = max(warmup, 1)  # the update that steps with the full rate
        return cfg.lr * cosine_decay(version - peak, cfg.iterations - peak + 1)

    def _plan(self, units: list, steps: int) -> list[list[list]]:
        """Every optimizer step of the update (``epochs`` shuffled passes of ``steps`` minibatches),
        each as its micro-batches."""
        plan = []
        for _ in range(self.config.epochs):
            order = torch.randperm(len(units), generator=self.generator)
            for indices in torch.tensor_split(order, steps):
                minibatch = [units[i] for i in indices.tolist()]
                accumulation = max(1, min(self.config.grad_accumulation, len(minibatch)))
                plan.append([minibatch[i::accumulation] for i in range(accumulation)] if minibatch else [])
        return plan

    @torch.no_grad()
    def _proximal(self, plan: list[list[list]]) -> list[list[torch.Tensor | None]]:
        """Each micro-batch's token log-probs under the weights the update starts from; ``None`` for
        the first step's, which score them themselves (see module docstring)."""
        first = [None] * len(plan[0]) if plan else []
        return [first] + [[self.agent.score(chunk).logprobs.detach() for chunk in chunks] for chunks in plan[1:]]

    def _step(self, chunks: list[list], targets: dict[int, tuple[float, float]],
              proximal: list[torch.Tensor | None], correct: bool = False) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        per_chunk: dict[str, list[float]] = {}
        finite = True
        for chunk, chunk_proximal in zip(chunks, proximal):
            loss, stats = self.loss(chunk, targets, chunk_proximal, correct=True) if correct else self.loss(chunk, targets)
            finite = finite and bool(torch.isfinite(loss))
            if not finite:
                break
            (loss / len(chunks)).backward()
            for key, value in stats.items():
                per_chunk.setdefault(key, []).append(value)
        totals = {key: _combine(key, values) for key, values in per_chunk.items()}
        if self.parallel.max(int(not finite)):  # every rank stops together
            raise NonFiniteLossError(f"non-finite loss on some rank ({_describe(totals)})")
        self.parallel.all_reduce_gradients(self.agent.parameters())
        norm = torch.nn.utils.clip_grad_norm_(self.agent.parameters(), self.config.max_grad_norm)
        if not math.isfinite(float(norm)):
            raise NonFiniteLossError(f"non-finite gradient norm ({_describe(totals)})")
        self.optimizer.step()
        totals["grad_norm"] = float(norm)
        return totals

    def loss(self, units: list, targets: dict[int, tuple[float, float]], proximal: torch.Tensor | None = None, *,
             correct: bool = False) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of one micro-batch. ``correct`` applies the configured off-policy correction
        against ``proximal`` (the micro-batch's log-probs under the update's starting weights; None:
        the weights have not moved yet, so the current log-probs, detached)."""
        cfg = self.config
        train_values = self.agent.has_value_head and cfg.value_coef > 0
        scores = self.agent.score(units, values=train_values, reference=cfg.kl_coef > 0)
        device = scores.logprobs.device
        turn_adv = torch.tensor([targets[id(t)][0] for t in scores.turns], dtype=torch.float32, device=device)
        token_adv = spread_turn_advantages(turn_adv, scores.token_turn, scores.mask)
        if not correct:
            loss, stats = clipped_policy_loss(scores.logprobs, scores.old_logprobs, token_adv, scores.mask, cfg.clip)
        else:
            proximal = scores.logprobs.detach() if proximal is None else proximal
            weights, is_stats = off_policy_weights(
                proximal, scores.old_logprobs, scores.mask, mode=cfg.importance_correction, level=cfg.is_level,
                cap=cfg.is_cap, token_turn=scores.token_turn, num_turns=len(scores.turns))
            loss, stats = clipped_policy_loss(scores.logprobs, proximal, token_adv, scores.mask, cfg.clip,
                                              weights=weights)
            stats.update(is_stats)
        stats["policy_loss"] = loss.item()
        entropy = masked_mean(scores.entropy, scores.mask)
        stats["entropy"] = entropy.item()
        loss = loss - cfg.entropy_coef * entropy
        if scores.ref_logprobs is not None:
            kl = kl_to_reference(scores.logprobs, scores.ref_logprobs, scores.mask)
            stats["kl"] = kl.item()
            loss = loss + cfg.kl_coef * kl
        if train_values and scores.values is not None:
            returns = torch.tensor([targets[id(t)][1] for t in scores.turns], dtype=torch.float32, device=device)
            v_loss = value_loss(scores.values, returns)
            stats["value_loss"] = v_loss.item()
            loss = loss + cfg.value_coef * v_loss
        stats["loss"] = loss.item()
        return loss, stats


def spread_turn_advantages(turn_advantages: torch.Tensor, token_turn: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The key step of multi-turn credit: every token the policy generated in turn ``k`` gets turn
    ``k``'s advantage; prompt and env tokens (``mask == 0``) get none. ``token_turn[b, t]`` is the
    index of the turn token ``(b, t)`` belongs to."""
    return turn_advantages[token_turn] * mask


def _per_turn_targets(trajectories: Sequence[Trajectory], advantages: Advantages) -> dict[int, tuple[float, float]]:
    """(advantage, return) of every turn, keyed by the turn object's identity."""
    targets = {}
    for trajectory, turn_advantages, returns in zip(trajectories, advantages.advantages, advantages.returns):
        for turn, a, r in zip(trajectory.turns, turn_advantages, returns):
            targets[id(turn)] = (float(a), float(r))
    return targets


def _combine(key: str, values: list[float]) -> float:
    """Statistics named ``*_max`` combine by maximum, the others by mean."""
    return float(max(values)) if key.endswith("_max") else float(np.mean(values))


def _describe(stats: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in sorted(stats.items())) or "no statistics"
