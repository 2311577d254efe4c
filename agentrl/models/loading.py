"""Loading Hugging Face models by local path or hub name, with clear errors offline."""

from __future__ import annotations

import os
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from agentrl.models.tiny import tiny_causal_lm, tiny_tokenizer


class ModelNotFoundError(FileNotFoundError):
    """A model path or name could not be loaded; the message says what to check."""


def _is_tiny(name: str) -> bool:
    return name in ("tiny", "agentrl/tiny")


def load_tokenizer(name: str):
    """Tokenizer for ``name``; ``"tiny"`` is the shipped offline tokenizer."""
    if _is_tiny(name):
        return tiny_tokenizer()
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(_not_found(name, exc)) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(name: str, *, dtype: Any = None, tiny_kwargs: dict | None = None):
    """Causal LM for ``name``; ``"tiny"`` builds a random tiny Llama (see ``tiny_causal_lm``)."""
    if _is_tiny(name):
        return tiny_causal_lm(**(tiny_kwargs or {}))
    try:
        return AutoModelForCausalLM.from_pretrained(name, dtype=dtype) if dtype else AutoModelForCausalLM.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(_not_found(name, exc)) from exc


def torch_device(name: str) -> str:
    """``auto`` becomes ``cuda`` when CUDA is present, else ``cpu``; other names pass through."""
    if name != "auto":
        return name
    return "cuda" if torch.cuda.is_available() else "cpu"


def _not_found(name: str, exc: Exception) -> str:
    where = "a local directory" if os.path.sep in name or name.startswith(".") else "a Hugging Face hub name"
    offline = " (HF_HUB_OFFLINE is set, so only cached models load)" if os.environ.get("HF_HUB_OFFLINE") else ""
    return (
        f"could not load model {name!r}, read as {where}{offline}: {exc}. "
        "Check the path exists and holds config.json and weights, or use model=tiny for the "
        "built-in offline test model."
    )
