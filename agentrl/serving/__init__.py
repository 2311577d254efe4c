"""Serving models over HTTP: an OpenAI-compatible server on loopback and ready-made responders.

``with OpenAICompatServer(responder) as server: server.base_url`` gives an endpoint that the
``openai`` client (and so agentrl's API policy and router backends) can talk to. Imports are light;
FastAPI and uvicorn load when a server starts.
"""

from agentrl.serving.openai_server import (
    ChatReply,
    OpenAICompatServer,
    Responder,
    approximate_token_count,
    cut_at_stop,
)
from agentrl.serving.replay import RecordedResponse, ReplayTable
from agentrl.serving.responders import CausalLMResponder, ReplayResponder

__all__ = [
    "CausalLMResponder",
    "ChatReply",
    "OpenAICompatServer",
    "RecordedResponse",
    "ReplayResponder",
    "ReplayTable",
    "Responder",
    "approximate_token_count",
    "cut_at_stop",
]
