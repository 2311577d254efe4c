"""Shared fixtures. Heavy optional pieces skip with a clear reason only when not installed."""

from __future__ import annotations

import os

import pytest

# Fails the session if any sandbox container created by this test run is left behind (and removes it).
pytest_plugins = ["agentrl.sandboxes.pytest_plugin"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from agentrl.models.tiny import tiny_tokenizer as build

    return build()
