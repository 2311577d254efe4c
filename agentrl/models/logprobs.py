"""Token log-probabilities of stored trajectories under a causal LM.

Shared by the learner (policy ratio, KL to the reference) and by the implicit PRM (OPRL). Both
score exactly the token ids recorded at rollout time: segments of turns are concatenated, padded
on the right, and scored in one forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from agentrl.core.trajectory import Turn


@dataclass
class SegmentBatch:
    """Right-padded token tensors for a list of segments (each a run of turns)."""

    input_ids: torch.Tensor  # (B, T) long
    attention_mask: torch.Tensor  # (B, T) long
    loss_mask: torch.Tensor  # (B, T) float: 1 on generated tokens
    old_logprobs: torch.Tensor  # (B, T) float: sampling logprobs (0 elsewhere)
    turn_index: torch.Tensor  # (B, T) long: index into ``turns`` of each token's turn, -1 on padding
    turns: list[Turn]

    def to(self, device: torch.device | str) -> "SegmentBatch":
        return SegmentBatch(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.loss_mask.to(device),
            self.old_logprobs.to(device),
            self.turn_index.to(device),
            self.turns,
        )


def collate_segments(segments: Sequence[Sequence[Turn]], pad_id: int = 0) -> SegmentBatch:
    """Concatenate each segment's turns into one row and pad the rows to equal length."""
    turns: list[Turn] = []
    rows: list[tuple[list[int], list[int], list[float], list[int]]] = []
    for segment in segments:
        ids: list[int] = []
        mask: list[int] = []
        logps: list[float] = []
        index: list[int] = []
        for turn in segment:
            if not (len(turn.token_ids) == len(turn.loss_mask) == len(turn.logprobs)):
                raise ValueError("turn token_ids, loss_mask and logprobs must have equal lengths")
            ids += turn.token_ids
            mask += turn.loss_mask
            logps += turn.logprobs
            index += [len(turns)] * len(turn.token_ids)
            turns.append(turn)
        rows.append((ids, mask, logps, index))
    width = max((len(r[0]) for r in rows), default=0)
    batch = len(rows)
    input_ids = torch.full((batch, width), pad_id, dtype=torch.long)
    attention = torch.zeros((batch, width), dtype=torch.long)
    loss_mask = torch.zeros((batch, width), dtype=torch.float32)
    old = torch.zeros((batch, width), dtype=torch.float32)
    turn_index = torch.full((batch, width), -1, dtype=torch.long)
    for b, (ids, mask, logps, index) in enumerate(rows):
        n = len(ids)
        input_ids[b, :n] = torch.tensor(ids, dtype=torch.long)
        attention[b, :n] = 1
        loss_mask[b, :n] = torch.tensor(mask, dtype=torch.float32)
        old[b, :n] = torch.tensor(logps, dtype=torch.float32)
        turn_index[b, :n] = torch.tensor(index, dtype=torch.long)
    return SegmentBatch(input_ids, attention, loss_mask, old, turn_index, turns)


def token_logprobs(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    temperature: float = 1.0,
    return_entropy: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of each token given the tokens before it; position 0 gets 0.

    Returns a (B, T) tensor aligned with ``input_ids`` (and the per-position entropy if asked).
    """
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1].float()
    if temperature != 1.0:
        logits = logits / temperature
    log_probs = torch.log_softmax(logits, dim=-1)
    picked = log_probs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    out = torch.cat([torch.zeros_like(picked[:, :1]), picked], dim=1)
    if not return_entropy:
        return out
    entropy = -(log_probs.exp() * log_probs).sum(-1)
    return out, torch.cat([torch.zeros_like(entropy[:, :1]), entropy], dim=1)


def per_turn_sum(values: torch.Tensor, batch: SegmentBatch, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Sum ``values`` (B, T) over the masked tokens of each turn -> (num_turns,)."""
    mask = batch.loss_mask if mask is None else mask
    flat_index = batch.turn_index.clamp(min=0).flatten()
    weights = (mask * (batch.turn_index >= 0)).flatten()
    out = torch.zeros(len(batch.turns), dtype=values.dtype, device=values.device)
    return out.index_add(0, flat_index, values.flatten() * weights)
