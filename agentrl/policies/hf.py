"""A transformers causal-LM policy with batched sampling and exact token records.

Acting only: the learner owns training. ``act`` builds each episode's context from the stored
token ids of its earlier turns (``context="full"``) or from a fresh prompt every turn
(``context="last"``), samples all live episodes in one batched, KV-cached loop, and returns the
appended prompt tokens plus the generated tokens with their sampling log-probabilities.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import torch

from agentrl.core.policy import ActionOutput, PolicyInput
from agentrl.core.trajectory import observation_text
from agentrl.models.loading import load_causal_lm, load_tokenizer
from agentrl.policies.chat import ChatFormat
from agentrl.policies.generation import GenerationConfig
from agentrl.policies.prefix_cache import (
    BatchLayout,
    PrefixStore,
    buffered_cache,
    buffered_layer_count,
    cache_layers,
    layout_of,
    padded_prefix_layers,
    plain_cache,
    row_layers,
)


@dataclass
class PromptContext:
    """The token context of one episode's next generation and the tokens this turn appends."""

    context: list[int]
    appended: list[int]
    new_context: bool
    exhausted: bool = False


def turn_output(text: str, appended: list[int], new_context: bool, tokens: list[int], logprobs: list[float],
                finished: bool) -> ActionOutput:
    """One turn's exact record: the prompt tokens it appended (log-prob 0, not trained), then the
    generated tokens with their sampling log-probs; ``finished`` is False when cut at the cap."""
    return ActionOutput(
        text=text,
        token_ids=list(appended) + tokens,
        logprobs=[0.0] * len(appended) + logprobs,
        loss_mask=[0] * len(appended) + [1] * len(tokens),
        new_context=new_context,
        generation_truncated=not finished,
    )


class HFPolicy:
    """Samples actions from a causal LM for a batch of episodes."""

    def __init__(self, model, tokenizer, config: GenerationConfig | None = None, *, seed: int = 0,
                 device: str | torch.device | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.config = config or GenerationConfig()
        self.chat = ChatFormat(tokenizer, system_prompt=self.config.system_prompt)
        self.device = torch.device(device) if device else next(model.parameters()).device
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.eos_id = tokenizer.eos_token_id
        self.prefixes = PrefixStore()
        self._reuse = self.config.reuse_kv and self.config.context == "full"
        self._forward_args = _forward_args(model)
        self._buffered_layers = buffered_layer_count(model)

    # ---------------------------------------------------------------- weight sync
    def load_weights(self, state_dict: dict) -> None:
        """The only channel from the learner: copy new weights into the acting model."""
        self.model.load_state_dict(state_dict)
        self.weights_changed()

    def weights_changed(self) -> None:
        """Cached keys and values were computed with the old weights: drop them."""
        self.prefixes.entries.clear()

    def reseed(self, seed: int) -> None:
        self.generator.manual_seed(seed)

    def evaluation_view(self, *, greedy: bool, seed: int) -> "HFPolicy":
        """The same model acting greedily (or sampling) with its own generator and KV store."""
        return HFPolicy(self.model, self.tokenizer, replace(self.config, greedy=greedy), seed=seed, device=self.device)

    # ---------------------------------------------------------------------- acting
    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        rows = [self.prompt_context(item) for item in inputs]
        live = [i for i, row in enumerate(rows) if not row.exhausted]
        keys = [inputs[i].episode_key for i in live]
        generated = self.generate([rows[i].context for i in live], keys) if live else []
        self.prefixes.retain(set(keys))
        outputs = [ActionOutput(text="", context_exhausted=True) for _ in rows]
        for i, (tokens, logprobs, finished) in zip(live, generated):
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            outputs[i] = turn_output(text, rows[i].appended, rows[i].new_context, tokens, logprobs, finished)
        return outputs

    def prompt_context(self, item: PolicyInput) -> PromptContext:
        """Rebuild the episode's context from its stored turns and append the new observation."""
        text = observation_text(item.observation)
        history = list(item.history)
        if self.config.context == "last" or not history:
            appended = self.chat.encode(self.chat.first_prompt(item.instructions, text))
            row = PromptContext(context=appended, appended=appended, new_context=True)
        else:
            previous: list[int] = []
            for turn in history:
                previous = list(turn.token_ids) if turn.new_context else previous + list(turn.token_ids)
            ended = bool(history[-1].token_ids) and history[-1].token_ids[-1] == self.eos_id
            appended = self.chat.encode(self.chat.next_prompt(text, ended))
            row = PromptContext(context=previous + appended, appended=appended, new_context=False)
        row.exhausted = len(row.context) + self.config.max_new_tokens > self.config.max_context_tokens
        return row

    @torch.no_grad()
    def generate(self, contexts: list[list[int]], keys: list[int] | None = None) -> list[tuple[list[int], list[float], bool]]:
        """Sample continuations of the contexts with a KV cache.

        ``keys`` name the episodes, so that their caches can be kept for the next turn. Returns, per
        row, the generated ids (including the EOS when produced), their log-probs, and whether the
        row finished with EOS.
        """
        was_training = self.model.training
        self.model.eval()
        try:
            return self._sample(contexts, keys if self._reuse else None)
        finally:
            self.model.train(was_training)

    def _prefill(self, contexts: list[list[int]], keys: list[int] | None) -> tuple[torch.Tensor, _DecodeBatch]:
        """Encode the contexts (only past their cached prefixes, when there are any)."""
        prefixes = [self.prefixes.lookup(k, c) for k, c in zip(keys, contexts)] if keys else []
        layout = layout_of(prefixes, contexts)
        ids, positions, mask = layout.inputs(contexts, self.pad_id, self.config.max_new_tokens)
        filled = layout.cached + layout.width
        cache = self._new_cache(prefixes, layout, filled + self.config.max_new_tokens)
        kwargs = {self._forward_args.cache: cache} if cache is not None else {}
        if self._forward_args.logits_to_keep:
            kwargs["logits_to_keep"] = 1
        mask = mask.to(self.device)
        out = self.model(input_ids=ids.to(self.device), attention_mask=mask[:, :filled],
                         position_ids=positions.to(self.device), use_cache=True, **kwargs)
        batch = _DecodeBatch(_cache_of(out), mask, filled, positions[:, -1:].to(self.device) + 1,
                             list(range(len(contexts))), layout)
        return out.logits[:, -1, :], batch

    def _new_cache(self, prefixes, layout, capacity: int):
        """The batch's cache: a preallocated buffer when the model allows it, else transformers'
        default cache (holding the cached prefixes, or None to let the model create it)."""
        if self._buffered_layers:
            return buffered_cache(self._buffered_layers, capacity, prefixes, layout)
        return plain_cache(padded_prefix_layers(prefixes, layout)) if any(prefixes) else None

    def _keep_prefixes(self, batch: _DecodeBatch, finished: list[int], contexts, tokens, keys) -> None:
        """Store the caches of the given batch rows (everything fed so far: the context and all but
        the last generated token) for the episode's next turn."""
        layers = cache_layers(batch.cache)
        if layers is None:
            self._reuse = False
            return
        for j in finished:
            b = batch.rows[j]
            self.prefixes.store(keys[b], contexts[b] + tokens[b][:-1],
                                row_layers(layers, j, batch.layout, b, batch.filled))

    def _sample(self, contexts, keys):
        logits, batch = self._prefill(contexts, keys)
        tokens: list[list[int]] = [[] for _ in contexts]
        logps: list[list[float]] = [[] for _ in contexts]
        done = [False] * len(contexts)
        writing = list(range(len(contexts)))  # batch positions of the rows still generating
        for step in range(self.config.max_new_tokens):
            chosen, chosen_ids, chosen_logps = self._pick(logits[writing] if len(writing) < len(batch.rows) else logits)
            for j, token, logp in zip(writing, chosen_ids, chosen_logps):
                b = batch.rows[j]
                tokens[b].append(token)
                logps[b].append(logp)
                done[b] = token == self.eos_id
            finished = [j for j in writing if done[batch.rows[j]]]
            if keys and finished:
                self._keep_prefixes(batch, finished, contexts, tokens, keys)
            fed = torch.full((len(batch.rows),), self.pad_id, dtype=torch.long, device=self.device)
            fed[writing] = chosen  # finished rows left in the batch are fed padding, and ignored
            writing = [j for j in writing if not done[batch.rows[j]]]
            if not writing or step == self.config.max_new_tokens - 1:
                break
            if _worth_compacting(len(batch.rows), len(writing)) and hasattr(batch.cache, "batch_select_indices"):
                # Finished rows leave the batch: later steps only compute the rows still writing.
                keep = torch.tensor(writing, device=self.device)
                batch.select(keep, writing)
                fed, writing = fed[keep], list(range(len(writing)))
            logits = self._decode(batch, fed)
        if keys and writing:  # cut at max_new_tokens: their last token was sampled but not fed
            self._keep_prefixes(batch, writing, contexts, tokens, keys)
        return [(tokens[b], logps[b], done[b]) for b in range(len(contexts))]

    def _decode(self, batch: _DecodeBatch, fed: torch.Tensor) -> torch.Tensor:
        """Feed one token per batch row; the logits of the next."""
        batch.filled += 1
        out = self.model(input_ids=fed.view(-1, 1), attention_mask=batch.mask[:, :batch.filled],
                         position_ids=batch.next_pos, use_cache=True, **{self._forward_args.cache: batch.cache})
        batch.cache, batch.next_pos = _cache_of(out), batch.next_pos + 1
        return out.logits[:, -1, :]

    def _pick(self, logits: torch.Tensor) -> tuple[torch.Tensor, list[int], list[float]]:
        """The next token of each row (on the model's device) with its id and log-probability."""
        log_probs = torch.log_softmax(logits.float() / self.config.temperature, dim=-1).cpu()
        if self.config.greedy:
            chosen = log_probs.argmax(-1)
        else:
            sampled = truncate_distribution(log_probs, self.config.top_k, self.config.top_p)
            chosen = torch.multinomial(sampled.exp(), 1, generator=self.generator).squeeze(-1)
        chosen_logps = log_probs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1)
        return chosen.to(self.device), chosen.tolist(), chosen_logps.tolist()


def truncate_distribution(log_probs: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Log-probs with everything outside the top-k tokens and the top-p nucleus set to -inf."""
    if top_k <= 0 and top_p >= 1.0:
        return log_probs
    out = log_probs.clone()
    if 0 < top_k < out.shape[-1]:
        kth = torch.topk(out, top_k, dim=-1).values[..., -1:]
        out[out < kth] = -float("inf")
    if top_p < 1.0:
        ordered, order = torch.sort(out, dim=-1, descending=True)
        before = torch.cumsum(ordered.exp(), dim=-1) - ordered.exp()  # mass of the more likely tokens
        drop = before >= top_p  # the most likely token is always kept
        out.scatter_(-1, order, ordered.masked_fill(drop, -float("inf")))
    return out


def _worth_compacting(rows: int, live: int) -> bool:
    """Dropping finished rows copies the live rows' caches; a finished row left in the batch costs a
    row of attention per step. Compact once finished rows are a quarter of the batch."""
    return live < rows and 4 * (rows - live) >= rows


@dataclass
class _DecodeBatch:
    """The rows still being decoded and their attention inputs."""

    cache: Any
    mask: torch.Tensor
    """(rows, every column the generation can fill); a step passes its first ``filled`` columns."""
    filled: int
    """Columns the cache holds."""
    next_pos: torch.Tensor
    """(rows, 1): the position id of each row's next token."""
    rows: list[int]
    """The original row of each batch row."""
    layout: BatchLayout

    def select(self, keep: torch.Tensor, live: list[int]) -> None:
        self.cache.batch_select_indices(keep)
        self.mask, self.next_pos = self.mask[keep], self.next_pos[keep]
        self.rows = [self.rows[j] for j in live]


@dataclass
class _ForwardArgs:
    cache: str
    """transformers 5 renamed ``past_key_values`` to ``cache``; accept both."""
    logits_to_keep: bool
    """The model can compute logits for the last position only."""


def _forward_args(model) -> _ForwardArgs:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    parameters = inspect.signature(getattr(base, "forward", base)).parameters
    return _ForwardArgs("cache" if "cache" in parameters else "past_key_values", "logits_to_keep" in parameters)


def _cache_of(output):
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


#: Generation settings saved beside an exported model (``agentrl export``); ``hf:DIR`` reads them.
GENERATION_FILE = "agentrl_generation.json"


def pretrained_policy(model: str, *, seed: int = 0) -> HFPolicy:
    """A transformers causal LM as a policy (``hf:MODEL``): any local path or hub name
    (``tiny`` builds the offline test model), on the GPU when there is one. Generation settings come
    from the folder's ``agentrl_generation.json`` when it has one (an exported run), else defaults."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    settings = Path(model) / GENERATION_FILE
    generation = GenerationConfig(**json.loads(settings.read_text())) if settings.is_file() else GenerationConfig()
    return HFPolicy(load_causal_lm(model).to(device), load_tokenizer(model), generation, seed=seed, device=device)

