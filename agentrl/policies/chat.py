"""Chat-template bookkeeping for exact multi-turn token records.

A multi-turn context is built incrementally: the first turn's prompt is the template applied to
``[system, user]``; every later turn appends only the *delta* the template puts between the end of
the model's generated reply and the start of the next reply (``\\n<|im_start|>user ...
<|im_start|>assistant\\n`` for ChatML). The generated tokens themselves are never re-rendered or
re-tokenised, so the stored ids are exactly what the model saw and produced.
"""

from __future__ import annotations

from dataclasses import dataclass

_PLACEHOLDER = "\u2063agentrl-reply\u2063"


@dataclass
class ChatFormat:
    """Prompt construction for one tokenizer."""

    tokenizer: object
    system_prompt: bool = True
    """Send the env's instructions as the system message."""

    def __post_init__(self) -> None:
        self._has_template = bool(getattr(self.tokenizer, "chat_template", None))
        self._eos_text = self.tokenizer.eos_token or ""
        if self._has_template:
            self._probe_template()

    def _render(self, messages: list[dict], generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)

    def _probe_template(self) -> None:
        base = [{"role": "user", "content": "x"}, {"role": "assistant", "content": _PLACEHOLDER}]
        closed = self._render(base, False)
        extended = self._render(base + [{"role": "user", "content": "y"}], True)
        if not extended.startswith(closed):
            raise ValueError("this chat template re-renders earlier turns; use context='last' for exact tokens")
        # What the template writes after a reply's content, e.g. "<|im_end|>\n".
        self._reply_tail = closed[closed.rindex(_PLACEHOLDER) + len(_PLACEHOLDER):]
        self._next_turn_head = extended[len(closed):].replace("y", "{obs}", 1)

    def messages(self, instructions: str, observation: str) -> list[dict]:
        messages = []
        if self.system_prompt and instructions:
            messages.append({"role": "system", "content": instructions})
        messages.append({"role": "user", "content": observation})
        return messages

    def first_prompt(self, instructions: str, observation: str) -> str:
        """Text of a fresh context that ends ready for the assistant's reply."""
        if not self._has_template:
            head = f"{instructions}\n\n" if self.system_prompt and instructions else ""
            return f"{head}{observation}\n"
        return self._render(self.messages(instructions, observation), True)

    def next_prompt(self, observation: str, previous_ended_with_eos: bool) -> str:
        """Text appended after the model's last generated token, ending ready for the next reply."""
        if not self._has_template:
            return ("" if previous_ended_with_eos else self._eos_text) + f"\n{observation}\n"
        tail = self._reply_tail
        if previous_ended_with_eos and self._eos_text and tail.startswith(self._eos_text):
            tail = tail[len(self._eos_text):]
        return tail + self._next_turn_head.replace("{obs}", observation, 1)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
