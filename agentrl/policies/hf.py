"""A transformers causal-LM policy with batched sampling and exact token records.

Acting only: the learner owns training. ``act`` builds each episode's context from the stored
token ids of its earlier turns (``context="full"``) or from a fresh prompt every turn
(``context="last"``), samples all live episodes in one batched, KV-cached loop, and returns the
appended prompt tokens plus the generated tokens with their sampling log-probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from agentrl.core.policy import ActionOutput, PolicyInput
from agentrl.core.trajectory import observation_text
from agentrl.policies.chat import ChatFormat
from agentrl.policies.prefix_cache import PrefixStore, cache_layers, prefill_inputs


@dataclass
class GenerationConfig:
    max_new_tokens: int = 32
    """Per-turn generation cap; hitting it flags the turn ``generation_truncated``."""
    max_context_tokens: int = 2048
    """Context cap; an episode that would exceed it ends truncated."""
    temperature: float = 1.0
    """Sampling temperature (logprobs are recorded under this temperature)."""
    context: str = "full"
    """``full``: the whole episode is one growing context; ``last``: a fresh prompt every turn."""
    system_prompt: bool = True
    """Send the env's instructions as the system message."""
    greedy: bool = False
    """Take the most likely token instead of sampling (evaluation)."""
    reuse_kv: bool = True
    """With ``context="full"``, keep each episode's KV cache between turns and encode only new tokens."""

    def __post_init__(self) -> None:
        if self.context not in ("full", "last"):
            raise ValueError(f"context must be 'full' or 'last', got {self.context!r}")
        if self.temperature <= 0:
            raise ValueError("temperature must be > 0 (use greedy=true for argmax decoding)")


@dataclass
class PromptContext:
    """The token context of one episode's next generation and the tokens this turn appends."""

    context: list[int]
    appended: list[int]
    new_context: bool
    exhausted: bool = False


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

    # ---------------------------------------------------------------------- acting
    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        rows = [self.prompt_context(item) for item in inputs]
        live = [i for i, row in enumerate(rows) if not row.exhausted]
        keys = [inputs[i].episode_key for i in live]
        generated = self.generate([rows[i].context for i in live], keys) if live else []
        self.prefixes.retain(set(keys))
        outputs = [ActionOutput(text="", context_exhausted=True) for _ in rows]
        for i, (tokens, logprobs, finished) in zip(live, generated):
            row = rows[i]
            prompt_len = len(row.appended)
            outputs[i] = ActionOutput(
                text=self.tokenizer.decode(tokens, skip_special_tokens=True),
                token_ids=row.appended + tokens,
                logprobs=[0.0] * prompt_len + logprobs,
                loss_mask=[0] * prompt_len + [1] * len(tokens),
                new_context=row.new_context,
                generation_truncated=not finished,
            )
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

    def _prefill(self, contexts: list[list[int]], keys: list[int] | None):
        """Encode the contexts (only past their cached prefixes, when there are any)."""
        prefixes = [self.prefixes.lookup(k, c) for k, c in zip(keys, contexts)] if keys else []
        if any(prefixes):
            ids, mask, positions, cache = prefill_inputs(prefixes, contexts, self.pad_id, self.device)
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                             **{_cache_keyword(self.model): cache})
            return out, mask, positions[:, -1:] + 1
        batch, width = len(contexts), max(map(len, contexts))
        ids = torch.full((batch, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((batch, width), dtype=torch.long)
        for b, context in enumerate(contexts):
            ids[b, width - len(context):] = torch.tensor(context, dtype=torch.long)
            mask[b, width - len(context):] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
        return out, mask, positions[:, -1:] + 1

    def _keep_prefixes(self, cache, mask, rows, positions_in_batch, contexts, tokens, keys) -> None:
        """Store the caches of the given rows (everything fed so far: the context and all but the
        last generated token) for the episode's next turn."""
        layers = cache_layers(cache)
        if layers is None:
            self._reuse = False
            return
        for j in positions_in_batch:
            b = rows[j]
            self.prefixes.store(keys[b], contexts[b] + tokens[b][:-1], layers, j, mask[j])

    def _sample(self, contexts, keys):
        out, mask, next_pos = self._prefill(contexts, keys)
        cache_arg, cache = _cache_keyword(self.model), _cache_of(out)
        batch = len(contexts)
        tokens: list[list[int]] = [[] for _ in range(batch)]
        logps: list[list[float]] = [[] for _ in range(batch)]
        done = [False] * batch
        rows = list(range(batch))  # the original row of each row still in the batch
        stored: set[int] = set()
        logits = out.logits[:, -1, :]
        for step in range(self.config.max_new_tokens):
            chosen, chosen_logp = self._pick(logits)
            for j, b in enumerate(rows):
                if not done[b]:
                    tokens[b].append(int(chosen[j]))
                    logps[b].append(float(chosen_logp[j]))
                    done[b] = int(chosen[j]) == self.eos_id
            live = [j for j, b in enumerate(rows) if not done[b]]
            finished = [j for j, b in enumerate(rows) if done[b] and b not in stored]
            if keys and finished:
                self._keep_prefixes(cache, mask, rows, finished, contexts, tokens, keys)
                stored.update(rows[j] for j in finished)
            if not live or step == self.config.max_new_tokens - 1:
                break
            if len(live) < len(rows) and hasattr(cache, "batch_select_indices"):
                # Finished rows leave the batch: later steps only compute the rows still writing.
                keep = torch.tensor(live, device=self.device)
                cache.batch_select_indices(keep)
                mask, next_pos, chosen = mask[keep], next_pos[keep], chosen[live]
                rows = [rows[j] for j in live]
            mask = torch.cat([mask, torch.ones((len(rows), 1), dtype=mask.dtype, device=mask.device)], dim=1)
            out = self.model(input_ids=chosen.view(-1, 1).to(self.device), attention_mask=mask,
                             position_ids=next_pos, use_cache=True, **{cache_arg: cache})
            cache, logits = _cache_of(out), out.logits[:, -1, :]
            next_pos = next_pos + 1
        unfinished = [j for j, b in enumerate(rows) if not done[b]]
        if keys and unfinished:  # cut at max_new_tokens: their last token was sampled but not fed
            self._keep_prefixes(cache, mask, rows, unfinished, contexts, tokens, keys)
        return [(tokens[b], logps[b], done[b]) for b in range(batch)]

    def _pick(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_probs = torch.log_softmax(logits.float().cpu() / self.config.temperature, dim=-1)
        if self.config.greedy:
            chosen = log_probs.argmax(-1)
        else:
            chosen = torch.multinomial(log_probs.exp(), 1, generator=self.generator).squeeze(-1)
        return chosen, log_probs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1)


def _cache_keyword(model) -> str:
    """transformers 5 renamed ``past_key_values`` to ``cache``; accept both."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    forward = getattr(base, "forward", base)
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


def _cache_of(output):
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values
