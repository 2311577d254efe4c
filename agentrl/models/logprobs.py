"""Token log-probabilities of stored trajectories under a causal LM.

Shared by the learner (policy ratio, KL to the reference) and by the implicit PRM (OPRL). Both
score exactly the token ids recorded at rollout time: segments of turns are concatenated and
scored in one forward pass, laid out in one of two ways:

* :func:`collate_segments` -- one segment per row, padded on the right (an attention mask hides
  the padding);
* :func:`pack_segments` -- several segments per row (first-fit decreasing into rows no wider than
  the longest segment), so little is padding. Position ids restart at 0 at every segment and no
  attention mask is passed: transformers then gives each segment its own causal block
  (``find_packed_sequence_indices`` in ``masking_utils``, or the varlen kernels of
  flash-attention), so every token sees exactly the tokens it saw in its own sequence.

:func:`score_tokens` runs the forward pass for either layout; a token that starts a segment has no
prediction and gets log-prob 0, as position 0 of a padded row.
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
    position_ids: torch.Tensor | None = None
    """(B, T) long, restarting at 0 at every segment, for packed rows (None: one segment per row)."""

    def to(self, device: torch.device | str) -> "SegmentBatch":
        return SegmentBatch(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.loss_mask.to(device),
            self.old_logprobs.to(device),
            self.turn_index.to(device),
            self.turns,
            self.position_ids.to(device) if self.position_ids is not None else None,
        )

    @property
    def packed(self) -> bool:
        return self.position_ids is not None

    def model_inputs(self) -> dict[str, torch.Tensor | bool]:
        """Keyword arguments of the model's forward for this layout (packed rows pass position ids
        and no attention mask, so that the model builds one causal block per segment)."""
        if self.position_ids is None:
            return {"input_ids": self.input_ids, "attention_mask": self.attention_mask}
        return {"input_ids": self.input_ids, "position_ids": self.position_ids, "use_cache": False}

    def segment_starts(self) -> torch.Tensor:
        """(B, T) bool: the first token of each segment (it has no prediction)."""
        if self.position_ids is None:
            starts = torch.zeros_like(self.input_ids, dtype=torch.bool)
            starts[:, 0] = True
            return starts
        return self.position_ids == 0

    @property
    def padding_fraction(self) -> float:
        """Share of the (B, T) positions that hold no token."""
        return 1.0 - float(self.attention_mask.sum()) / max(1, self.attention_mask.numel())


def collate_segments(segments: Sequence[Sequence[Turn]], pad_id: int = 0) -> SegmentBatch:
    """Concatenate each segment's turns into one row and pad the rows to equal length."""
    rows, turns = _segment_rows(segments)
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


def _segment_rows(segments: Sequence[Sequence[Turn]]) -> tuple[list[tuple[list[int], list[int], list[float], list[int]]], list[Turn]]:
    """Each segment's concatenated (ids, loss mask, log-probs, turn indices), and the turns in order."""
    turns: list[Turn] = []
    rows = []
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
    return rows, turns


def first_fit_decreasing(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Bins of item indices, each holding at most ``capacity`` (longest items placed first, each
    into the first bin it fits). An item longer than ``capacity`` gets a bin of its own."""
    bins: list[list[int]] = []
    room: list[int] = []
    for item in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        for b, free in enumerate(room):
            if lengths[item] <= free:
                bins[b].append(item)
                room[b] -= lengths[item]
                break
        else:
            bins.append([item])
            room.append(capacity - lengths[item])
    return bins


def pack_segments(segments: Sequence[Sequence[Turn]], pad_id: int = 0, capacity: int | None = None) -> SegmentBatch:
    """Several segments per row, with position ids restarting at every segment (module docstring).

    Rows hold at most ``capacity`` tokens (default: the longest segment, so a packed row is never
    wider than the padded layout's and attention costs no more). ``turns`` keeps the order of
    :func:`collate_segments` (segment by segment), so per-turn results index the same way.
    """
    rows, turns = _segment_rows(segments)
    lengths = [len(r[0]) for r in rows]
    width = max([capacity or 0, *lengths, 1])
    bins = first_fit_decreasing(lengths, width)
    shape = (len(bins), max((sum(lengths[i] for i in b) for b in bins), default=0))
    input_ids = torch.full(shape, pad_id, dtype=torch.long)
    attention = torch.zeros(shape, dtype=torch.long)
    loss_mask = torch.zeros(shape, dtype=torch.float32)
    old = torch.zeros(shape, dtype=torch.float32)
    turn_index = torch.full(shape, -1, dtype=torch.long)
    positions = torch.zeros(shape, dtype=torch.long)  # trailing padding: a block of its own from 0
    for b, members in enumerate(bins):
        start = 0
        for i in members:
            ids, mask, logps, index = rows[i]
            end = start + len(ids)
            input_ids[b, start:end] = torch.tensor(ids, dtype=torch.long)
            attention[b, start:end] = 1
            loss_mask[b, start:end] = torch.tensor(mask, dtype=torch.float32)
            old[b, start:end] = torch.tensor(logps, dtype=torch.float32)
            turn_index[b, start:end] = torch.tensor(index, dtype=torch.long)
            positions[b, start:end] = torch.arange(len(ids))
            start = end
        positions[b, start:] = torch.arange(shape[1] - start)
    return SegmentBatch(input_ids, attention, loss_mask, old, turn_index, turns, positions)


@torch.no_grad()
def packing_supported(model: torch.nn.Module) -> bool:
    """Whether ``model`` keeps packed segments apart: two short segments scored packed and padded
    must agree (a model that ignores packed position ids lets the second attend to the first)."""
    vocab = int(getattr(model.config, "vocab_size", 2))
    probe = [[Turn(observation="", action="", token_ids=[(7 * i + j) % vocab for j in range(n)],
                   logprobs=[0.0] * n, loss_mask=[1] * n)] for i, n in enumerate((3, 2))]
    device = next(model.parameters()).device
    padded, packed = collate_segments(probe).to(device), pack_segments(probe, capacity=5).to(device)
    if packed.input_ids.shape[0] != 1:
        raise AssertionError("the probe should pack into one row")
    was_training = model.training
    model.eval()
    try:
        expected = score_tokens(model, padded, entropy=False).logprobs[1, :2]
        got = score_tokens(model, packed, entropy=False).logprobs[0, 3:]
    finally:
        model.train(was_training)
    return bool(torch.allclose(expected.float(), got.float(), atol=1e-3))


@dataclass
class TokenScores:
    """A forward pass's per-token results, aligned with the batch's ``input_ids``."""

    logprobs: torch.Tensor  # (B, T): log-prob of each token given the tokens before it in its segment
    entropy: torch.Tensor | None  # (B, T): entropy of the distribution that predicted the token
    hidden: torch.Tensor | None  # (B, T, H): last hidden states (when asked)


def score_tokens(model: torch.nn.Module, batch: SegmentBatch, *, temperature: float = 1.0, entropy: bool = True,
                 hidden_states: bool = False) -> TokenScores:
    """Log-probs (and entropies) of the batch's tokens, padded or packed; 0 at segment starts."""
    out = model(**batch.model_inputs(), output_hidden_states=hidden_states)
    logits = out.logits[:, :-1].float()
    if temperature != 1.0:
        logits = logits / temperature
    log_probs = torch.log_softmax(logits, dim=-1)
    keep = ~batch.segment_starts()
    picked = log_probs.gather(-1, batch.input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    logprobs = torch.cat([torch.zeros_like(picked[:, :1]), picked], dim=1) * keep
    token_entropy = None
    if entropy:
        spread = -(log_probs.exp() * log_probs).sum(-1)
        token_entropy = torch.cat([torch.zeros_like(spread[:, :1]), spread], dim=1) * keep
    return TokenScores(logprobs, token_entropy, out.hidden_states[-1] if hidden_states else None)


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
