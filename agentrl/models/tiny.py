"""A tiny, fully offline tokenizer and causal LM.

No weights can be downloaded in tests or on air-gapped machines, so agentrl ships a character-level
tokenizer (printable ASCII plus whole-word tokens for chat markup, tags and common action words)
with a ChatML chat template. Models are built from a config with random weights; a run is then SFT
first, RL second. ``tiny_causal_lm`` builds a Llama-architecture model of any small size.
"""

from __future__ import annotations

import string
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

TINY_TOKENIZER_DIR = Path(__file__).resolve().parent.parent / "assets" / "tiny_tokenizer"

SPECIAL_TOKENS = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
#: Whole-word tokens that keep agent markup short (matched before single characters).
WORD_TOKENS = [
    "<think>", "</think>", "<answer>", "</answer>", "<search>", "</search>",
    "<information>", "</information>", "system", "user", "assistant",
    "Up", "Down", "Left", "Right", "search[", "click[",
]
EXTRA_CHARS = "√·–—’“”…°×"

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_tiny_tokenizer(directory: str | Path = TINY_TOKENIZER_DIR) -> Path:
    """Write the tokenizer files to ``directory`` (the package ships the result)."""
    chars = sorted(set(string.printable) - set("\x0b\x0c\r") | set(EXTRA_CHARS))
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for char in chars:
        vocab.setdefault(char, len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    tokenizer.add_tokens(WORD_TOKENS)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        unk_token="<unk>",
        eos_token="<|im_end|>",
        bos_token=None,
        chat_template=CHAT_TEMPLATE,
    )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(directory))
    return directory


def tiny_tokenizer():
    """The shipped character-level tokenizer (a ``PreTrainedTokenizerFast``)."""
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(TINY_TOKENIZER_DIR))
    if not getattr(tokenizer, "chat_template", None):  # transformers < 4.47 ignores chat_template.jinja
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_causal_lm(
    vocab_size: int | None = None,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    intermediate_size: int | None = None,
    max_positions: int = 2048,
    seed: int = 0,
):
    """A randomly initialised Llama-architecture causal LM sized for CPU tests."""
    tokenizer = None
    if vocab_size is None:
        tokenizer = tiny_tokenizer()
        vocab_size = len(tokenizer)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or 4 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id if tokenizer else 0,
        eos_token_id=tokenizer.eos_token_id if tokenizer else None,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)
