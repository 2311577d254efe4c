"""Trainable agents: a model the learner optimises plus the acting policy it syncs weights into.

Every agent follows the :class:`Agent` protocol, so the learner and the trainer never branch on the
policy kind:

* ``units(trajectories)`` -- the training units (token segments for a language model, single turns
  for a grid network);
* ``score(units, ...)`` -- new log-probs, entropy, masks and, optionally, per-turn values and
  reference log-probs, aligned as (rows, tokens) tensors;
* ``turn_values`` / ``bootstrap_values`` -- the critic's per-turn values and its value of each
  truncated episode's final observation (GAE's ``next_value``);
* ``sync()`` -- push the learner's weights to the acting policy (the only learner-to-sampler channel).
"""

from __future__ import annotations

import copy
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np
import torch
from torch import nn

from agentrl.core.actions import extract_tag
from agentrl.core.policy import PolicyInput, TrainablePolicy
from agentrl.core.trajectory import Trajectory, Turn
from agentrl.policies.grid import GridNet, GridPolicy, stack_grids
from agentrl.policies.generation import GenerationConfig
from agentrl.policies.hf import HFPolicy
from agentrl.models.logprobs import collate_segments, pack_segments, packing_supported, score_tokens


@dataclass
class Scores:
    logprobs: torch.Tensor  # (B, T)
    entropy: torch.Tensor  # (B, T)
    mask: torch.Tensor  # (B, T), 1 on trained tokens
    old_logprobs: torch.Tensor  # (B, T)
    token_turn: torch.Tensor  # (B, T), index into ``turns`` (clamped to >= 0)
    turns: list[Turn]
    values: torch.Tensor | None = None  # (len(turns),)
    ref_logprobs: torch.Tensor | None = None  # (B, T)


@runtime_checkable
class Agent(Protocol):
    """What the learner and trainer need from a trainable agent (see module docstring)."""

    policy: TrainablePolicy
    reference: nn.Module | None

    @property
    def has_value_head(self) -> bool: ...

    @property
    def language_model(self) -> nn.Module | None:
        """The causal LM being trained (None for non-LM agents); OPRL's PRM can start as its copy."""

    def parameters(self) -> list[nn.Parameter]: ...

    def freeze_reference(self) -> None: ...

    def sync(self) -> None: ...

    def units(self, trajectories: Sequence[Trajectory]) -> list: ...

    def score(self, units: Sequence[Any], *, values: bool = False, reference: bool = False) -> "Scores": ...

    def turn_values(self, trajectories: Sequence[Trajectory]) -> list[np.ndarray]: ...

    def bootstrap_values(self, trajectories: Sequence[Trajectory]) -> list[float]: ...

    def demonstration_units(self, demos: Sequence[tuple[Trajectory, list[str | None]]]) -> list: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


def _autocast(device: torch.device, bf16: bool):
    if device.type == "cuda" and bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def enable_checkpointing(model: nn.Module) -> None:
    """Activation (gradient) checkpointing on a transformers model, under either of its names."""
    enable = getattr(model, "activation_checkpointing_enable", None)
    if enable is not None:
        enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def _frozen_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with gradients off (the KL reference)."""
    frozen = copy.deepcopy(model).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    return frozen


class LMAgent:
    """A causal LM (optionally with a value head) and its acting :class:`HFPolicy`."""

    def __init__(self, model, tokenizer, generation: GenerationConfig, *, value_head: bool = False,
                 device: str | torch.device = "cpu", seed: int = 0, bf16: bool = True, share_weights: bool = False,
                 pack_sequences: bool = False, gradient_checkpointing: bool = False,
                 acting: TrainablePolicy | None = None):
        """``acting`` replaces the default acting :class:`HFPolicy` (e.g. a vLLM engine; it receives the
        learner's weights through ``load_weights``). ``pack_sequences`` scores several segments per row (no padding waste, see
        :func:`~agentrl.models.logprobs.pack_segments`); ``gradient_checkpointing`` recomputes the
        learner model's activations in the backward pass instead of keeping them (less memory)."""
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.tokenizer = tokenizer
        self.bf16 = bf16
        hidden = self.model.config.hidden_size
        self.value_head = nn.Linear(hidden, 1).to(self.device) if value_head else None
        if acting is None:
            acting_model = self.model if share_weights else copy.deepcopy(self.model)
            acting = HFPolicy(acting_model, tokenizer, generation, seed=seed, device=self.device)
        else:
            share_weights = False
        self.policy = acting
        self.shared = share_weights
        self.reference: nn.Module | None = None
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        if pack_sequences and not packing_supported(self.model):
            raise ValueError(f"pack_sequences: {type(self.model).__name__} mixes packed segments (it ignores packed "
                             "position ids; transformers >= 4.56 with a Llama, Qwen2, Mistral... model keeps them "
                             "apart); set policy.pack_sequences=false")
        self.pack_sequences = pack_sequences
        if gradient_checkpointing:  # after the acting copy: generation keeps its KV cache
            enable_checkpointing(self.model)

    @property
    def has_value_head(self) -> bool:
        return self.value_head is not None

    @property
    def language_model(self) -> nn.Module:
        return self.model

    def parameters(self) -> list[nn.Parameter]:
        params = [p for p in self.model.parameters() if p.requires_grad]
        return params + (list(self.value_head.parameters()) if self.value_head is not None else [])

    def freeze_reference(self) -> None:
        """Keep a frozen copy of the current weights for the KL penalty."""
        self.reference = _frozen_copy(self.model)

    def sync(self) -> None:
        if self.shared:
            self.policy.weights_changed()
        else:
            self.policy.load_weights(self.model.state_dict())

    def units(self, trajectories: Sequence[Trajectory]) -> list[list[Turn]]:
        return [seg for t in trajectories for seg in t.segments() if any(any(turn.loss_mask) for turn in seg)]

    def score(self, units: Sequence[Sequence[Turn]], *, values: bool = False, reference: bool = False) -> Scores:
        layout = pack_segments if self.pack_sequences else collate_segments
        batch = layout(units, pad_id=self.pad_id).to(self.device)
        temperature = self.policy.config.temperature
        with _autocast(self.device, self.bf16):
            tokens = score_tokens(self.model, batch, temperature=temperature, hidden_states=values)
        scores = Scores(
            logprobs=tokens.logprobs, entropy=tokens.entropy,
            mask=batch.loss_mask, old_logprobs=batch.old_logprobs,
            token_turn=batch.turn_index.clamp(min=0), turns=batch.turns,
        )
        if values:
            scores.values = self._values_at_turn_starts(tokens.hidden.float(), batch)
        if reference and self.reference is not None:
            with torch.no_grad(), _autocast(self.device, self.bf16):
                scores.ref_logprobs = score_tokens(self.reference, batch, temperature=temperature,
                                                   entropy=False).logprobs
        return scores

    def _values_at_turn_starts(self, hidden: torch.Tensor, batch) -> torch.Tensor:
        """Value of each turn, read at the last prompt token before the turn's first generated token."""
        assert self.value_head is not None
        token_values = self.value_head(hidden).squeeze(-1)  # (B, T)
        starts = (batch.loss_mask[:, 1:] > 0) & (batch.loss_mask[:, :-1] == 0)
        rows, cols = torch.nonzero(starts, as_tuple=True)  # cols = position before a generated run
        out = torch.zeros(len(batch.turns), device=hidden.device)
        return out.index_copy(0, batch.turn_index[rows, cols + 1], token_values[rows, cols])

    def turn_values(self, trajectories: Sequence[Trajectory]) -> list[np.ndarray]:
        return values_by_scoring(self, trajectories)

    @torch.no_grad()
    def bootstrap_values(self, trajectories: Sequence[Trajectory]) -> list[float]:
        """The value of each truncated episode's final observation, read where a next turn's value
        would be (the last token of the prompt the policy would build); 0 for ended episodes."""
        out = [0.0] * len(trajectories)
        if self.value_head is None:
            return out
        limit = self.policy.config.max_context_tokens
        rows = [(i, self.policy.prompt_context(PolicyInput(observation=t.final_observation, instructions=t.instructions,
                                                            history=t.turns)).context[-limit:])
                for i, t in enumerate(trajectories) if t.truncated and t.turns]
        for start in range(0, len(rows), 32):
            chunk = rows[start:start + 32]
            width = max(len(ids) for _, ids in chunk)
            ids = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, (_, tokens) in enumerate(chunk):
                ids[row, : len(tokens)] = torch.tensor(tokens)
                mask[row, : len(tokens)] = 1
            with _autocast(self.device, self.bf16):
                hidden = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                    output_hidden_states=True).hidden_states[-1].float()
            last = mask.sum(1).to(self.device) - 1
            values = self.value_head(hidden[torch.arange(len(chunk), device=self.device), last]).squeeze(-1)
            for (i, _), value in zip(chunk, values.tolist()):
                out[i] = value
        return out

    def state_dict(self) -> dict:
        state = {"model": self.model.state_dict()}
        if self.value_head is not None:
            state["value_head"] = self.value_head.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        if self.value_head is not None and "value_head" in state:
            self.value_head.load_state_dict(state["value_head"])
        self.sync()

    def demonstration_units(self, demos: Sequence[tuple[Trajectory, list[str | None]]]) -> list[list[Turn]]:
        """Token segments for SFT: each turn's prompt exactly as the policy would build it, followed by
        the expert's label (loss on the label only; turns without a label are context only)."""
        units = []
        chat = self.policy.chat
        eos = [self.policy.eos_id] if self.policy.eos_id is not None else []
        for trajectory, labels in demos:
            segment: list[Turn] = []
            for index, (turn, label) in enumerate(zip(trajectory.turns, labels)):
                fresh = self.policy.config.context == "last" or index == 0
                prompt_text = (chat.first_prompt(trajectory.instructions, turn.text_observation) if fresh
                               else chat.next_prompt(turn.text_observation, True))
                prompt = chat.encode(prompt_text)
                reply = chat.encode(label if label is not None else turn.action) + eos
                demo = Turn(observation=turn.observation, action=label or turn.action, token_ids=prompt + reply,
                            logprobs=[0.0] * (len(prompt) + len(reply)),
                            loss_mask=[0] * len(prompt) + [int(label is not None)] * len(reply), new_context=fresh)
                if fresh and segment:
                    units.append(segment)
                    segment = []
                segment.append(demo)
            if segment:
                units.append(segment)
        return [u for u in units if any(any(t.loss_mask) for t in u)]


class GridAgent:
    """A :class:`GridNet` and its acting :class:`GridPolicy`; each turn is one training unit."""

    def __init__(self, net: GridNet, actions: Sequence[str], *, device: str | torch.device = "cpu", seed: int = 0,
                 tag: str | None = "answer"):
        self.device = torch.device(device)
        self.model = net.to(self.device)
        self.actions = list(actions)
        self.policy = GridPolicy(copy.deepcopy(net), actions, seed=seed, tag=tag)
        self.reference: nn.Module | None = None
        self.value_head = self.model.value_head

    @property
    def has_value_head(self) -> bool:
        return True

    @property
    def language_model(self) -> None:
        return None

    def parameters(self) -> list[nn.Parameter]:
        return list(self.model.parameters())

    def turn_values(self, trajectories: Sequence[Trajectory]) -> list[np.ndarray]:
        return values_by_scoring(self, trajectories)

    @torch.no_grad()
    def bootstrap_values(self, trajectories: Sequence[Trajectory]) -> list[float]:
        """The value of each truncated episode's final observation; 0 for ended episodes."""
        out = [0.0] * len(trajectories)
        cut = [i for i, t in enumerate(trajectories) if t.truncated and t.final_observation is not None]
        if cut:
            _, values = self.model(stack_grids([trajectories[i].final_observation for i in cut]).to(self.device))
            for i, value in zip(cut, values.float().tolist()):
                out[i] = value
        return out

    def freeze_reference(self) -> None:
        self.reference = _frozen_copy(self.model)

    def sync(self) -> None:
        self.policy.load_weights(self.model.state_dict())

    def units(self, trajectories: Sequence[Trajectory]) -> list[Turn]:
        return [turn for t in trajectories for turn in t.turns if turn.token_ids]

    def score(self, units: Sequence[Turn], *, values: bool = False, reference: bool = False) -> Scores:
        grids = stack_grids([turn.observation for turn in units]).to(self.device)
        actions = torch.tensor([turn.token_ids[0] for turn in units], device=self.device).unsqueeze(-1)
        logits, value = self.model(grids)
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        n = len(units)
        scores = Scores(
            logprobs=log_probs.gather(-1, actions), entropy=-(log_probs.exp() * log_probs).sum(-1, keepdim=True),
            mask=torch.ones((n, 1), device=self.device),
            old_logprobs=torch.tensor([[turn.logprobs[0]] for turn in units], device=self.device),
            token_turn=torch.arange(n, device=self.device).unsqueeze(-1), turns=list(units),
            values=value.float() if values else None,
        )
        if reference and self.reference is not None:
            with torch.no_grad():
                ref_logits, _ = self.reference(grids)
                scores.ref_logprobs = torch.log_softmax(ref_logits.float(), -1).gather(-1, actions)
        return scores

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.sync()

    def demonstration_units(self, demos: Sequence[tuple[Trajectory, list[str | None]]]) -> list[Turn]:
        index = {name.lower(): i for i, name in enumerate(self.actions)}
        units = []
        for trajectory, labels in demos:
            for turn, label in zip(trajectory.turns, labels):
                name = (extract_tag(label, "answer") or label).lower() if label else None
                if name not in index:
                    continue
                units.append(Turn(observation=turn.observation, action=label, token_ids=[index[name]],
                                  logprobs=[0.0], loss_mask=[1]))
        return units


def values_by_scoring(agent: Agent, trajectories: Sequence[Trajectory], chunk: int = 64) -> list[np.ndarray]:
    """Per-turn value estimates (no gradient), one array per trajectory, from ``score(values=True)``."""
    by_turn: dict[int, float] = {}
    units = agent.units(trajectories)
    with torch.no_grad():
        for start in range(0, len(units), chunk):
            scores = agent.score(units[start:start + chunk], values=True)
            for turn, value in zip(scores.turns, scores.values.tolist()):
                by_turn[id(turn)] = value
    return [np.array([by_turn.get(id(turn), 0.0) for turn in t.turns]) for t in trajectories]
