"""OPRL: Online Process Reward Learning with an implicit process reward model (Liu et al., 2025).

The PRM ``pi_phi`` is a causal LM over the policy's own token ids. The step reward of turn ``t`` is

    r_t = beta * sum over the generated tokens of turn t of (log pi_phi - log pi_old)

where ``pi_old`` is the policy that produced the rollout (its stored ``turn.logprobs``). Each call:

1. scores every turn with the current PRM and writes ``fields["prm"] = r_t`` and
   ``fields["step_reward"] = r_t / max |r|`` over the batch (the normaliser floored at ``min_scale``);
   the learner gives it its own RLOO advantage term with weight ``w``
   (see :func:`agentrl.train.advantages.oprl_advantages`);
2. then takes one optimizer step on the trajectory-level DPO loss: for every (success, failure)
   pair in the same group, ``-log sigmoid(Q(tau+) - Q(tau-))`` with ``Q`` the mean step reward over
   the trajectory's turns, averaged over pairs. Groups with no success or no failure give no pairs.

The rewards written in step 1 come from the forward pass before the step. The gradient is exact
and memory-bounded: ``dL/dQ`` is computed from the scores of step 1, and a second, differentiable
pass over only the trajectories in pairs back-propagates ``sum dL/dQ * Q`` micro-batch by
micro-batch. The PRM weights and optimizer state are in ``state_dict()`` for exact resume.

``model="@policy"`` starts the PRM as a copy of the policy after the warm start (the paper
initialises the PRM from the SFT policy): a trainer supplies it at ``setup``. The metric
``oprl/pair_accuracy`` is the fraction of (success, failure) pairs the PRM already orders right
(``Q(tau+) > Q(tau-)``) before its step: above 0.5 means its process rewards carry outcome signal.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch

from agentrl.core.trajectory import Trajectory, TrajectoryBatch, Turn
from agentrl.models.loading import load_causal_lm, torch_device
from agentrl.models.logprobs import collate_segments, per_turn_sum, token_logprobs
from agentrl.rewards.base import POLICY_REF, RewardStage, TrainingContext


@dataclass
class OPRLConfig:
    model: Any = "tiny"
    """The PRM: a causal LM object, a name/path for ``agentrl.models.load_causal_lm``, or ``"@policy"``
    (a copy of the policy after the warm start, given by the trainer). It must share the policy's
    tokenizer. Pass a copy of the policy model, not the policy itself: this stage trains it."""
    beta: float = 0.05
    """Scale of the implicit reward ``beta * log(pi_phi / pi_old)``."""
    lr: float = 1e-6
    """PRM learning rate (AdamW)."""
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    """Gradient clipping of the PRM step; ``None`` disables it."""
    update: bool = True
    """Take one DPO step per call; False only scores (evaluation)."""
    micro_batch_size: int = 8
    """Segments per forward pass."""
    temperature: float = 1.0
    """Sampling temperature the stored logprobs were taken at (the PRM is scored at the same one)."""
    pad_id: int = 0
    """Token id used to pad rows (masked out)."""
    min_scale: float = 1e-4
    """Floor of the normaliser ``max |r|``: a PRM still equal to ``pi_old`` gives float noise of about
    1e-7, which must not be blown up to step rewards of +-1."""
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu`` or ``cuda``."""

    def __post_init__(self) -> None:
        if self.micro_batch_size < 1:
            raise ValueError(f"micro_batch_size must be >= 1, got {self.micro_batch_size}")


def dpo_pairs(trajectories: Sequence[Trajectory]) -> list[tuple[int, int]]:
    """Every (success, failure) pair of indices within the same group."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, trajectory in enumerate(trajectories):
        groups[trajectory.group_id].append(index)
    pairs = []
    for members in groups.values():
        wins = [i for i in members if trajectories[i].success]
        losses = [i for i in members if not trajectories[i].success]
        pairs.extend((w, l) for w in wins for l in losses)
    return pairs


def dpo_loss_and_grad(q: Sequence[float], pairs: Sequence[tuple[int, int]]) -> tuple[float, dict[int, float]]:
    """Mean ``-log sigmoid(q_w - q_l)`` over pairs and its gradient with respect to each ``q``."""
    grad: dict[int, float] = defaultdict(float)
    loss = 0.0
    for w, l in pairs:
        margin = q[w] - q[l]
        loss += _softplus(-margin)  # -log sigmoid(margin)
        pull = _sigmoid(-margin)
        grad[w] -= pull / len(pairs)
        grad[l] += pull / len(pairs)
    return loss / max(len(pairs), 1), dict(grad)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _softplus(x: float) -> float:
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


class ImplicitPRM(RewardStage):
    """Implicit process rewards from a PRM trained online by trajectory DPO (see module docstring)."""

    Config = OPRLConfig
    config: OPRLConfig
    metric_prefix = "oprl"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._model = None
        self._optimizer = None
        self._pending_state: Mapping[str, Any] | None = None
        self.updates = 0

    # ------------------------------------------------------------------ model
    @property
    def model(self):
        if self._model is None:
            model = self.config.model
            if model == POLICY_REF:
                raise ValueError("ImplicitPRM(model='@policy') starts from a copy of the policy: it needs a "
                                 "trainer's setup() before the first batch")
            model = load_causal_lm(model) if isinstance(model, str) else model
            self._model = model.to(torch_device(self.config.device))
        return self._model

    def setup(self, context: TrainingContext) -> None:
        """With ``model="@policy"``, start the PRM from a copy of the policy after the warm start."""
        if self.config.model != POLICY_REF or self._model is not None:
            return
        if context.policy_model is None:
            raise ValueError("ImplicitPRM(model='@policy') needs a language-model policy to copy")
        self._model = context.policy_model().to(torch_device(self.config.device))
        self._optimizer = None
        if self._pending_state is not None:  # a resumed run: the saved PRM replaces the copy
            self.load_state_dict(self._pending_state)

    @property
    def optimizer(self):
        if self._optimizer is None:
            params = [p for p in self.model.parameters() if p.requires_grad]
            self._optimizer = torch.optim.AdamW(
                params, lr=self.config.lr, weight_decay=self.config.weight_decay
            )
        return self._optimizer

    # ------------------------------------------------------------------ scoring
    def _segments(self, trajectories: Sequence[Trajectory]) -> list[list[Turn]]:
        segments = [seg for t in trajectories for seg in t.segments() if any(turn.token_ids for turn in seg)]
        vocab = getattr(self.model.config, "vocab_size", None)
        top = max((max(turn.token_ids) for seg in segments for turn in seg if turn.token_ids), default=-1)
        if vocab is not None and top >= vocab:
            raise ValueError(
                f"token id {top} is outside the PRM's vocabulary ({vocab}); "
                "the PRM must use the policy's tokenizer"
            )
        return segments

    def _turn_log_ratios(self, segments: list[list[Turn]], weights: Mapping[int, float] | None = None):
        """``{id(turn): sum of (log pi_phi - log pi_old)}`` over generated tokens; with ``weights``
        (by ``id(turn)``) it back-propagates ``sum weights * log pi_phi`` instead."""
        out: dict[int, float] = {}
        size = self.config.micro_batch_size
        for start in range(0, len(segments), size):
            batch = collate_segments(segments[start : start + size], self.config.pad_id).to(
                next(self.model.parameters()).device
            )
            with torch.set_grad_enabled(weights is not None):
                new = per_turn_sum(
                    token_logprobs(
                        self.model, batch.input_ids, batch.attention_mask, temperature=self.config.temperature
                    ),
                    batch,
                )
            if weights is not None:
                coefficients = torch.tensor([weights.get(id(t), 0.0) for t in batch.turns], device=new.device)
                (coefficients * new).sum().backward()
                continue
            old = per_turn_sum(batch.old_logprobs, batch)
            for turn, value in zip(batch.turns, (new - old).tolist()):
                out[id(turn)] = value
        return out

    def score(self, batch: Sequence[Trajectory]) -> list[list[float]]:
        """Step rewards ``r_t`` of every turn (no update), one list per trajectory."""
        trajectories = list(batch)
        segments = self._segments(trajectories)
        if not segments and any(t.turns for t in trajectories):
            raise ValueError(
                "ImplicitPRM needs the token ids and logprobs of each turn; these trajectories have none "
                "(an LM policy records them; grid, scripted and API policies do not)"
            )
        self.model.eval()
        ratios = self._turn_log_ratios(segments)
        beta = self.config.beta
        return [[beta * ratios.get(id(turn), 0.0) for turn in t.turns] for t in trajectories]

    # ------------------------------------------------------------------ the stage
    def __call__(self, batch: TrajectoryBatch) -> TrajectoryBatch:
        trajectories = list(batch)
        rewards = self.score(trajectories)
        scale = max(max((abs(r) for rs in rewards for r in rs), default=0.0), self.config.min_scale)
        for trajectory, rs in zip(trajectories, rewards):
            for turn, r in zip(trajectory.turns, rs):
                turn.fields["prm"] = r
                turn.fields["step_reward"] = r / scale
        q = [sum(rs) / len(rs) if rs else 0.0 for rs in rewards]
        pairs = dpo_pairs(trajectories)
        metrics = {
            "pairs": len(pairs),
            "scale": scale,
            "tokens": sum(sum(turn.loss_mask) for t in trajectories for turn in t.turns),
            "prm_mean": sum(sum(rs) for rs in rewards) / max(batch.num_turns, 1),
        }
        if pairs:
            loss, grad = dpo_loss_and_grad(q, pairs)
            metrics.update(dpo_loss=loss, q_margin=sum(q[w] - q[l] for w, l in pairs) / len(pairs),
                           pair_accuracy=sum(q[w] > q[l] for w, l in pairs) / len(pairs))
            if self.config.update:
                metrics["grad_norm"] = self._step(trajectories, grad)
        self.record(batch, metrics)
        return batch

    def _step(self, trajectories: list[Trajectory], grad_q: Mapping[int, float]) -> float:
        """One optimizer step on the DPO loss, given ``dL/dQ`` for the paired trajectories."""
        weights: dict[int, float] = {}
        involved = []
        for index, g in grad_q.items():
            trajectory = trajectories[index]
            involved.append(trajectory)
            for turn in trajectory.turns:  # Q = mean_t beta * (log pi_phi - log pi_old)
                weights[id(turn)] = g * self.config.beta / len(trajectory.turns)
        optimizer = self.optimizer
        optimizer.zero_grad(set_to_none=True)
        self._turn_log_ratios(self._segments(involved), weights)
        params = [p for p in self.model.parameters() if p.grad is not None]
        norm = (
            torch.nn.utils.clip_grad_norm_(params, self.config.max_grad_norm or float("inf"))
            if params
            else 0.0
        )
        optimizer.step()
        self.updates += 1
        return float(norm)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "updates": self.updates,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if self.config.model == POLICY_REF and self._model is None:
            self._pending_state = state  # applied at setup, once the policy copy exists
            return
        self._pending_state = None
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state.get("updates", 0))
