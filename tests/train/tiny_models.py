"""Small local stand-ins for real models (no weights can be downloaded here): a Qwen2-architecture
model with tiny sizes and the shipped tokenizer, saved with ``save_pretrained`` like a hub folder."""

from pathlib import Path

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from agentrl.models.tiny import tiny_tokenizer


def save_tiny_qwen2(path: Path, seed: int = 0) -> Path:
    tokenizer = tiny_tokenizer()
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    Qwen2ForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
