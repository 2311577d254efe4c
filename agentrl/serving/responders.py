"""Ready-made responders for :class:`~agentrl.serving.openai_server.OpenAICompatServer`.

* :class:`CausalLMResponder` generates with a transformers causal LM (the tiny offline model in
  tests, any local or cached model otherwise) and reports exact token counts.
* :class:`ReplayResponder` answers from recorded responses (:mod:`agentrl.serving.replay`), for
  deterministic offline evaluation.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from agentrl.models import load_causal_lm, load_tokenizer
from agentrl.serving.openai_server import ChatReply, cut_at_stop
from agentrl.serving.replay import ReplayTable


def last_user_text(messages: list[dict]) -> str:
    """The content of the last ``user`` message (the query a recorded response answers)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return str(message.get("content") or "")
    raise ValueError("the conversation has no user message")


class CausalLMResponder:
    """Chat completions from a transformers causal LM, greedy unless ``temperature`` > 0.

    Request parameters honoured: ``max_tokens`` / ``max_completion_tokens``, ``temperature``,
    ``top_p``, ``seed`` and ``stop``. Generation is serialised by a lock: one model, one stream.
    """

    def __init__(self, model: Any, tokenizer: Any, *, max_new_tokens: int = 64,
                 temperature: float = 0.0) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self._lock = threading.Lock()

    @classmethod
    def from_pretrained(cls, name: str, **kwargs: Any) -> "CausalLMResponder":
        """``name`` is a local path, a cached hub name, or ``"tiny"`` (the offline test model)."""
        return cls(load_causal_lm(name), load_tokenizer(name), **kwargs)

    def __call__(self, model: str, messages: list[dict], params: dict) -> ChatReply:
        import torch

        prompt = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        encoded = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
        limit = int(params.get("max_completion_tokens") or params.get("max_tokens") or self.max_new_tokens)
        temperature = float(params.get("temperature", self.temperature) or 0.0)
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            top_p = float(params.get("top_p") or 1.0)
            sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p}
        with self._lock, torch.no_grad():
            if params.get("seed") is not None:
                torch.manual_seed(int(params["seed"]))
            output = self.model.generate(
                **encoded, max_new_tokens=limit, pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id, **sampling,
            )
        new_ids = output[0, encoded["input_ids"].shape[1]:].tolist()
        return self._reply(new_ids, len(encoded["input_ids"][0]), limit, params.get("stop"))

    def _reply(self, new_ids: list[int], prompt_tokens: int, limit: int, stop: Any) -> ChatReply:
        eos = self.tokenizer.eos_token_id
        finished = eos in new_ids
        if finished:
            new_ids = new_ids[: new_ids.index(eos)]
        text, matched = cut_at_stop(self.tokenizer.decode(new_ids, skip_special_tokens=True), stop)
        finished = finished or matched is not None
        reason = "stop" if finished or len(new_ids) < limit else "length"
        return ChatReply(text, prompt_tokens=prompt_tokens, completion_tokens=len(new_ids),
                         finish_reason=reason, stop_reason=matched)


class ReplayResponder:
    """Answers with the recorded response for ``(model, last user message)``.

    An unrecorded pair raises ``KeyError`` (the server turns it into an HTTP 500 naming the
    recorded models), so a replay never silently invents an answer.
    """

    def __init__(self, table: ReplayTable) -> None:
        self.table = table

    @classmethod
    def from_jsonl(cls, *paths: str | Path) -> "ReplayResponder":
        return cls(ReplayTable.from_jsonl(*paths))

    def __call__(self, model: str, messages: list[dict], params: dict) -> ChatReply:
        record = self.table.lookup(model, last_user_text(messages))
        return ChatReply(record.response, prompt_tokens=record.prompt_tokens,
                         completion_tokens=record.completion_tokens)
