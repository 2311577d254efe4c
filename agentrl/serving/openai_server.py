"""A small OpenAI-compatible chat-completions server that runs in a background thread.

It exists so that the real ``openai`` client path (API policies, router backends) can be tested and
benchmarked without the network: the server binds ``127.0.0.1`` on a free port and answers
``POST /v1/chat/completions`` and ``GET /v1/models`` with whatever a *responder* returns::

    def echo(model: str, messages: list[dict], params: dict) -> str:
        return messages[-1]["content"].upper()

    with OpenAICompatServer(echo) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="unused")

A responder returns a string or a :class:`ChatReply` (which carries exact token counts). An
exception in the responder becomes an HTTP 500 whose message names it; a responder that blocks
makes the client time out. Responders run in a thread pool owned by the server, so a slow one never
stalls the event loop; a responder that may block for long should wait on :attr:`closing` so that
``stop()`` returns promptly.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence, Union

#: Prefix of every thread the server starts (tests use it to check nothing leaks).
THREAD_PREFIX = "agentrl-openai-server"


@dataclass
class ChatReply:
    """A responder's answer with optional exact token counts."""

    text: str
    prompt_tokens: int | None = None
    """Tokens in the prompt; counted with the server's ``count_tokens`` when ``None``."""
    completion_tokens: int | None = None
    """Tokens in ``text``; counted with the server's ``count_tokens`` when ``None``."""
    finish_reason: str = "stop"
    """``"stop"`` or ``"length"`` (the generation hit its token limit)."""
    stop_reason: str | None = None
    """The stop string that ended the text (sent as vLLM does, ``choices[i].stop_reason``)."""


Responder = Callable[[str, list, dict], Union[str, ChatReply]]

_WORD_PIECES = re.compile(r"\w+|[^\w\s]")


def approximate_token_count(text: str) -> int:
    """Words plus punctuation marks: a tokenizer-free stand-in for ``usage`` counts."""
    return len(_WORD_PIECES.findall(text))


def stop_strings(stop: Any) -> list[str]:
    """A request's ``stop`` parameter (a string, a list or none) as a list of non-empty strings."""
    return [s for s in ([stop] if isinstance(stop, str) else list(stop or [])) if isinstance(s, str) and s]


def cut_at_stop(text: str, stop: Any) -> tuple[str, str | None]:
    """OpenAI stop semantics: ``text`` up to the earliest stop string (excluded), and that string
    (``None`` when no stop string occurs)."""
    found = [(text.find(s), s) for s in stop_strings(stop) if s in text]
    if not found:
        return text, None
    at, matched = min(found)
    return text[:at], matched


class ResponderError(Exception):
    """An HTTP error raised while serving one request (status code and OpenAI-style body)."""

    def __init__(self, status: int, message: str, kind: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind

    def body(self) -> dict[str, Any]:
        return {"error": {"message": str(self), "type": self.kind, "code": self.status}}


def message_text(content: Any) -> str:
    """The text of a chat message's ``content``: a string, or a list of ``{"type": "text"}`` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    raise ResponderError(400, "message content must be a string or a list of parts, "
                         f"got {type(content).__name__}", "invalid_request_error")


def _read_request(body: Any, models: Sequence[str] | None) -> tuple[str, list[dict], dict]:
    if not isinstance(body, dict):
        raise ResponderError(400, "the request body must be a JSON object", "invalid_request_error")
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        raise ResponderError(400, "'model' must be a non-empty string", "invalid_request_error")
    if models is not None and model not in models:
        raise ResponderError(404, f"model {model!r} is not served here; models: {', '.join(models)}",
                             "not_found_error")
    if not isinstance(messages, list) or not messages:
        raise ResponderError(400, "'messages' must be a non-empty list", "invalid_request_error")
    clean = []
    for message in messages:
        if not isinstance(message, dict) or "role" not in message:
            raise ResponderError(400, "every message needs a 'role' and a 'content'", "invalid_request_error")
        clean.append({"role": str(message["role"]), "content": message_text(message.get("content"))})
    if body.get("stream"):
        raise ResponderError(400, "streaming is not supported by this server; set stream=false",
                             "invalid_request_error")
    params = {k: v for k, v in body.items() if k not in ("model", "messages")}
    return model, clean, params


class OpenAICompatServer:
    """Serve ``responder`` as an OpenAI-compatible endpoint on ``127.0.0.1`` (see module docstring)."""

    def __init__(
        self,
        responder: Responder,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Sequence[str] | None = None,
        api_key: str | None = None,
        count_tokens: Callable[[str], int] = approximate_token_count,
        max_workers: int = 8,
        shutdown_timeout: float = 5.0,
    ) -> None:
        """``models`` restricts the accepted model names (others get 404); ``api_key`` requires
        ``Authorization: Bearer KEY`` (others get 401); ``port=0`` picks a free port."""
        if not host.startswith("127.") and host != "localhost":
            raise ValueError(f"OpenAICompatServer only binds loopback addresses, got host={host!r}")
        self.responder = responder
        self.host, self.requested_port = host, port
        self.models = list(models) if models is not None else None
        self.api_key = api_key
        self.count_tokens = count_tokens
        self.max_workers = max_workers
        self.shutdown_timeout = shutdown_timeout
        self.closing = threading.Event()
        """Set when the server begins to stop; long-blocking responders should wait on it."""
        self.requests_served = 0
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server is not running; use it as a context manager or call start()")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL to give ``openai.OpenAI(base_url=...)``: ``http://127.0.0.1:PORT/v1``."""
        return self.url + "/v1"

    def start(self, timeout: float = 10.0) -> "OpenAICompatServer":
        import uvicorn

        if self._thread is not None:
            raise RuntimeError("the server is already running")
        self.closing.clear()
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
        # says TCP, and without it every response waits ~40 ms for the client's delayed ACK.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((self.host, self.requested_port))
        self.port = self._socket.getsockname()[1]
        self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix=f"{THREAD_PREFIX}-worker")
        config = uvicorn.Config(
            self._build_app(), log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=self.shutdown_timeout, timeout_keep_alive=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=THREAD_PREFIX, daemon=True,
        )
        self._thread.start()
        self._wait_started(timeout)
        return self

    def _wait_started(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the OpenAI-compatible server did not start on {self.host}:{self.port}")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving, wait for in-flight requests (up to ``shutdown_timeout``), free the port."""
        self.closing.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(self.shutdown_timeout + 5.0)
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._executor = self._socket = None
        self.port = None

    def __enter__(self) -> "OpenAICompatServer":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ serving
    def _build_app(self):
        from fastapi import FastAPI
        from fastapi.responses import JSONResponse

        app = FastAPI(title="agentrl OpenAI-compatible server", docs_url=None, redoc_url=None)

        # Plain Starlette routes: the handlers take the raw request, so no annotation is resolved.
        async def chat_completions(request):
            try:
                self._check_key(request.headers.get("authorization"))
                body = await self._json(request)
                payload = await self._complete(*_read_request(body, self.models))
            except ResponderError as exc:
                return JSONResponse(exc.body(), status_code=exc.status)
            return JSONResponse(payload)

        async def list_models(request):
            try:
                self._check_key(request.headers.get("authorization"))
            except ResponderError as exc:
                return JSONResponse(exc.body(), status_code=exc.status)
            data = [{"id": m, "object": "model", "owned_by": "agentrl"} for m in self.models or []]
            return JSONResponse({"object": "list", "data": data})

        app.add_route("/v1/chat/completions", chat_completions, methods=["POST"])
        app.add_route("/v1/models", list_models, methods=["GET"])
        return app

    def _check_key(self, header: str | None) -> None:
        if self.api_key is not None and header != f"Bearer {self.api_key}":
            raise ResponderError(401, "invalid or missing API key", "authentication_error")

    @staticmethod
    async def _json(request: Any) -> Any:
        try:
            return await request.json()
        except ValueError as exc:
            raise ResponderError(400, f"the request body is not valid JSON: {exc}",
                                 "invalid_request_error") from exc

    async def _complete(self, model: str, messages: list[dict], params: dict) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        count = max(1, int(params.get("n") or 1))
        replies = []
        for _ in range(count):
            try:
                reply = await loop.run_in_executor(
                    self._executor, self.responder, model, messages, dict(params))
            except Exception as exc:  # the responder failed: the client sees why, as a 500
                raise ResponderError(500, f"responder failed: {type(exc).__name__}: {exc}",
                                     "server_error") from exc
            replies.append(self._as_reply(reply, messages))
        with self._lock:
            self.requests_served += 1
        return self._payload(model, replies)

    def _as_reply(self, reply: Any, messages: list[dict]) -> ChatReply:
        if isinstance(reply, str):
            reply = ChatReply(reply)
        if not isinstance(reply, ChatReply):
            raise ResponderError(500, f"responder returned {type(reply).__name__}; expected str or ChatReply",
                                 "server_error")
        if reply.prompt_tokens is None:
            reply.prompt_tokens = sum(self.count_tokens(m["content"]) for m in messages)
        if reply.completion_tokens is None:
            reply.completion_tokens = self.count_tokens(reply.text)
        return reply

    @staticmethod
    def _payload(model: str, replies: list[ChatReply]) -> dict[str, Any]:
        prompt = replies[0].prompt_tokens or 0
        completion = sum(r.completion_tokens or 0 for r in replies)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": r.text},
                 "finish_reason": r.finish_reason, "stop_reason": r.stop_reason}
                for i, r in enumerate(replies)
            ],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
        }
