"""Model construction: tiny offline models for tests and quickstarts, and HF loading helpers."""

from agentrl.models.tiny import TINY_TOKENIZER_DIR, build_tiny_tokenizer, tiny_causal_lm, tiny_tokenizer
from agentrl.models.loading import ModelNotFoundError, load_causal_lm, load_tokenizer

__all__ = [
    "TINY_TOKENIZER_DIR",
    "ModelNotFoundError",
    "build_tiny_tokenizer",
    "load_causal_lm",
    "load_tokenizer",
    "tiny_causal_lm",
    "tiny_tokenizer",
]
