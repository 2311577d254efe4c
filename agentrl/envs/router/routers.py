"""Model routers that generate the way Router-R1's own loop does (``router-r1`` protocol).

Router-R1 (``run_llm_loop`` in ``router_r1/llm_agent/generation.py``) writes *one* assistant reply
per question: the prompt is a single chat-templated user message, and every later generation
continues the same reply after the previous kept generation and the ``<information>`` block inserted
after it -- no chat-template markers in between. The env reports both pieces per turn
(``info["kept_text"]``, ``info["inline_observation"]``), so a router here rebuilds that reply and
continues it:

* :class:`HFRouter` -- a transformers model (``hf:PATH``). The context is the
  templated prompt's tokens followed by each kept generation's and each block's tokens, every piece
  tokenised on its own as ``_update_rolling_state`` concatenates them, cut from the left to
  ``max_context_tokens`` (upstream ``max_prompt_length``, 4096 in its ``test.sh``); the prompt alone
  is cut to ``max_prompt_tokens`` (``max_start_length``, 2048). Decoding is greedy, as upstream's
  validation (``do_sample=False``), for up to ``max_new_tokens`` (``max_response_length``, 1024).
* :class:`APIRouter` -- an OpenAI-compatible endpoint serving the router (``api:MODEL@URL``, e.g.
  vLLM): the prompt as the user message and the reply so far as an assistant message to continue
  (vLLM's ``continue_final_message``). A stop string cuts its own text off the reply (OpenAI
  semantics); the tag is put back (from vLLM's ``stop_reason`` when the server sends it, else the
  tag left open), as upstream's ``infer_vllm.py`` does.

Upstream's evaluation sets no stop strings: it generates to EOS or the token limit and the env
cuts the text (:func:`~agentrl.envs.router.protocol.cut_generation`). ``stop=["</search>",
"</answer>"]`` (``infer_vllm.py``'s) is faster and differs only when a generation closes an
``</answer>`` before a ``</search>``: the cut then keeps the search, a stop string does not.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Sequence

from agentrl.core.policy import ActionOutput, PolicyInput
from agentrl.core.trajectory import observation_text
from agentrl.models import load_causal_lm, load_tokenizer

#: infer_vllm.py's stop strings.
ROUTER_R1_STOPS = ("</search>", "</answer>")


class RouterRequestError(RuntimeError):
    """A router endpoint failed after the client's retries; the message names model, URL and cause."""


@dataclass
class RouterGeneration:
    """How a router model generates (defaults: Router-R1's ``test.sh``)."""

    max_new_tokens: int = 1024
    """Tokens per generation (upstream ``data.max_response_length``)."""
    temperature: float = 0.0
    """0 decodes greedily (upstream's validation); > 0 samples."""
    top_p: float = 1.0
    """Nucleus mass when sampling."""
    stop: list[str] = field(default_factory=list)
    """Stop strings; empty generates to EOS or the limit (upstream's evaluation). A stop string stays
    in the text (``hf``: with the rest of the token that completes it; the env's cut drops that)."""
    max_context_tokens: int = 4096
    """Left-cut of the whole context (upstream ``data.max_prompt_length``; ``hf``)."""
    max_prompt_tokens: int = 2048
    """Left-cut of the first prompt (upstream ``data.max_start_length``; ``hf``)."""
    batch_size: int = 16
    """Episodes generated in one batch (``hf``) or requests in flight (``api``)."""
    seed: int = 0
    """Sampling seed (used when ``temperature`` > 0)."""

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or self.batch_size < 1 or self.max_context_tokens <= self.max_new_tokens:
            raise ValueError("router generation: max_new_tokens and batch_size must be >= 1 and "
                             "max_context_tokens must exceed max_new_tokens")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("router generation: temperature must be >= 0 and top_p in (0, 1]")
        self.stop = [s for s in self.stop if s]


def reply_so_far(item: PolicyInput) -> tuple[str, list[str]]:
    """``(first user message, pieces of the assistant reply so far)``: every kept generation and
    every block inserted after it, in order."""
    first = item.history[0].observation if item.history else item.observation
    pieces: list[str] = []
    for turn in item.history:
        pieces += [turn.info.get("kept_text", ""), turn.info.get("inline_observation", "")]
    return observation_text(first), [p for p in pieces if p]


def close_stopped_tag(text: str, stopped_on: str | None, stops: Sequence[str]) -> str:
    """Put back the stop string a server cut off: the one it reports, else the tag left open."""
    if stopped_on in stops:
        return text + stopped_on
    opened = [tag for tag in stops if tag.startswith("</") and text.rfind("<" + tag[2:]) > text.rfind(tag)]
    if opened:
        return text + max(opened, key=lambda tag: text.rfind("<" + tag[2:]))
    return text


class HFRouter:
    """Upstream's generation loop with a transformers causal LM (module docstring)."""

    def __init__(self, model: Any, tokenizer: Any, generation: RouterGeneration | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.generation = generation or RouterGeneration()
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    @classmethod
    def from_pretrained(cls, path: str, generation: RouterGeneration | None = None) -> "HFRouter":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        return cls(load_causal_lm(path).to(device), load_tokenizer(path), generation)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

    def context(self, item: PolicyInput) -> list[int]:
        """The token context of the episode's next generation (module docstring)."""
        prompt, pieces = reply_so_far(item)
        if getattr(self.tokenizer, "chat_template", None):
            prompt = self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                        add_generation_prompt=True, tokenize=False)
        ids = self.encode(prompt)[-self.generation.max_prompt_tokens:]
        for piece in pieces:
            ids += self.encode(piece)
        return ids[-self.generation.max_context_tokens:]

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        size = self.generation.batch_size
        texts: list[str] = []
        for start in range(0, len(inputs), size):
            texts += self.generate([self.context(item) for item in inputs[start:start + size]])
        return [ActionOutput(text=text) for text in texts]

    def generate(self, contexts: list[list[int]]) -> list[str]:
        """Continue each context (left-padded into one batch); the decoded new text of each."""
        import torch

        settings = self.generation
        device = next(self.model.parameters()).device
        width = max(len(c) for c in contexts)
        ids = torch.full((len(contexts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(contexts), width), dtype=torch.long)
        for row, context in enumerate(contexts):
            ids[row, width - len(context):] = torch.tensor(context, dtype=torch.long)
            mask[row, width - len(context):] = 1
        sampling: dict[str, Any] = {"do_sample": False}
        if settings.temperature > 0:
            torch.manual_seed(settings.seed)
            sampling = {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p}
        if settings.stop:
            sampling.update(stop_strings=list(settings.stop), tokenizer=self.tokenizer)
        with torch.no_grad():
            output = self.model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                         max_new_tokens=settings.max_new_tokens, pad_token_id=self.pad_id,
                                         eos_token_id=self.tokenizer.eos_token_id, **sampling)
        return [self.tokenizer.decode(row[width:].tolist(), skip_special_tokens=True) for row in output]


class APIRouter:
    """Upstream's generation loop against an OpenAI-compatible endpoint (module docstring)."""

    def __init__(self, model: str, base_url: str, generation: RouterGeneration | None = None, *,
                 api_key: str | None = None, timeout_s: float = 300.0, max_retries: int = 2) -> None:
        import openai

        self.model, self.base_url = model, base_url
        self.generation = generation or RouterGeneration()
        key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.client = openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout_s,
                                    max_retries=max_retries)
        self._pool: ThreadPoolExecutor | None = None

    def request(self, item: PolicyInput) -> dict[str, Any]:
        """The chat-completions request of the episode's next generation."""
        prompt, pieces = reply_so_far(item)
        settings = self.generation
        request: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": prompt}],
                                   "max_tokens": settings.max_new_tokens, "temperature": settings.temperature,
                                   "top_p": settings.top_p}
        if pieces:
            request["messages"].append({"role": "assistant", "content": "".join(pieces)})
            request["extra_body"] = {"continue_final_message": True, "add_generation_prompt": False}
        if settings.stop:
            request["stop"] = list(settings.stop)
        if settings.temperature > 0:
            request["seed"] = settings.seed
        return request

    def complete(self, item: PolicyInput) -> ActionOutput:
        import openai

        try:
            response = self.client.chat.completions.create(**self.request(item))
        except openai.OpenAIError as exc:
            raise RouterRequestError(
                f"router {self.model!r} at {self.base_url}: {type(exc).__name__}: {exc}") from exc
        choice = response.choices[0]
        text = choice.message.content or ""
        if choice.finish_reason == "stop" and self.generation.stop:
            text = close_stopped_tag(text, getattr(choice, "stop_reason", None), self.generation.stop)
        return ActionOutput(text=text, generation_truncated=choice.finish_reason == "length")

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        if len(inputs) <= 1:
            return [self.complete(item) for item in inputs]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.generation.batch_size,
                                            thread_name_prefix="agentrl-api-router")
        return list(self._pool.map(self.complete, inputs))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.client.close()
