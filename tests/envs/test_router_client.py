"""The real client path: the env's ``openai`` backend against OpenAI-compatible servers that the
test starts on 127.0.0.1 -- per-model endpoints and keys, token usage, a timeout and a 500."""

from __future__ import annotations

import threading
import types

import pytest

from agentrl.envs.router.backends import CallSettings, OpenAIBackend
from agentrl.envs.router.env import RouterEnv
from agentrl.envs.router.pool import ModelSpec
from agentrl.envs.router.router_r1 import candidate_prompt, router_r1_pool
from agentrl.serving import (
    ChatReply,
    OpenAICompatServer,
    ReplayResponder,
    ReplayTable,
    approximate_token_count,
)

QUESTION = "Who wrote Hamlet?"


class Servers:
    """Four endpoints: a good model, a slow one, a broken one, and one that needs a key."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, list[dict]]] = []
        self.lock = threading.Lock()
        self.good = OpenAICompatServer(self.answer)
        self.slow = OpenAICompatServer(self.hang)
        self.broken = OpenAICompatServer(self.fail)
        self.keyed = OpenAICompatServer(self.answer, api_key="sekrit")
        self.all = [self.good, self.slow, self.broken, self.keyed]

    def answer(self, model, messages, params):
        with self.lock:
            self.seen.append((model, messages))
        return ChatReply(f"I am {model}. Answer: William Shakespeare", prompt_tokens=11, completion_tokens=7)

    def hang(self, model, messages, params):
        self.slow.closing.wait(30)
        return "too late"

    def fail(self, model, messages, params):
        raise RuntimeError("GPU fell off the bus")


@pytest.fixture(scope="module")
def servers():
    bundle = Servers()
    for server in bundle.all:
        server.start()
    yield bundle
    for server in bundle.all:
        server.stop()


@pytest.fixture
def env(servers, monkeypatch):
    monkeypatch.setenv("KEYED_API_KEY", "sekrit")
    pool = [
        {"name": "good-8b", "price_per_1m": 0.5, "base_url": servers.good.base_url, "api_model": "org/good-8b-instruct"},
        {"name": "slow-70b", "price_per_1m": 2.0, "base_url": servers.slow.base_url},
        {"name": "broken-7b", "price_per_1m": 0.1, "base_url": servers.broken.base_url},
        {"name": "keyed-13b", "price_per_1m": 1.0, "base_url": servers.keyed.base_url, "api_key_env": "KEYED_API_KEY"},
        {"name": "wrong-key", "price_per_1m": 1.0, "base_url": servers.keyed.base_url, "api_key": "nope"},
    ]
    environment = RouterEnv(pool=pool, backend="openai", calls={"timeout_s": 0.5, "max_retries": 0},
                            shared_cost_window=None, protocol="chat")
    environment.reset(seed=0, options={"task": {"question": QUESTION, "golden_answers": ["William Shakespeare"]}})
    yield environment
    environment.close()


def search(env, model):
    return env.step(f"<think>ask {model}</think><search> {model}: {QUESTION} </search>")


def test_successful_call_uses_usage_tokens_for_cost(env, servers):
    obs, _, _, _, info = search(env, "Good-8B")
    assert "<information>I am org/good-8b-instruct. Answer: William Shakespeare</information>" in obs
    [call] = info["calls"]
    assert call["ok"] and call["completion_tokens"] == 7 and call["cost"] == pytest.approx(7 * 0.5)
    assert call["latency_s"] > 0
    model, messages = servers.seen[-1]
    assert model == "org/good-8b-instruct"
    assert messages[0]["role"] == "system" and "specialist" in messages[0]["content"]
    assert messages[-1] == {"role": "user", "content": QUESTION}
    _, reward, terminated, _, info = env.step("<think>done</think><answer>William Shakespeare</answer>")
    assert terminated and reward == 1.0 and info["cost"] == 3.5 and info["em"] == 1.0


def test_timeout_maps_to_information_none(env):
    obs, _, terminated, _, info = search(env, "slow-70b")
    assert "<information>None</information>" in obs and not terminated
    [call] = info["calls"]
    assert not call["ok"] and "APITimeoutError" in call["error"] and call["cost"] == 0.0
    assert info["action_valid"]  # the router did nothing wrong


def test_server_error_maps_to_information_none(env):
    obs, _, _, _, info = search(env, "broken-7b")
    assert "<information>None</information>" in obs
    assert "InternalServerError" in info["calls"][0]["error"] and "GPU fell off the bus" in info["calls"][0]["error"]
    _, reward, terminated, _, info = env.step("<think>guess</think><answer>William Shakespeare</answer>")
    assert terminated and info["format_ok"] and info["cost"] == 0.0 and reward == 1.0


def test_per_model_keys(env):
    obs, _, _, _, info = search(env, "keyed-13b")
    assert "Answer: William Shakespeare" in obs and info["calls"][0]["ok"]
    obs, _, _, _, info = search(env, "wrong-key")
    assert "<information>None</information>" in obs and "AuthenticationError" in info["calls"][0]["error"]


def test_http_replay_equals_in_process_replay(tmp_path):
    records = [{"model": "m1", "query": QUESTION, "response": "Answer: Shakespeare", "completion_tokens": 5},
               {"model": "m2", "query": QUESTION, "response": "Answer: Marlowe", "completion_tokens": 9}]
    path = tmp_path / "recorded.jsonl"
    ReplayTable(records).to_jsonl(path)
    task = {"question": QUESTION, "golden_answers": ["Shakespeare"]}

    def transcript(env):
        env.reset(seed=0, options={"task": task})
        calls = []
        for model in ("m1", "m2"):
            _, _, _, _, info = env.step(f"<think>t</think><search> {model}: {QUESTION} </search>")
            calls += info["calls"]
        _, reward, _, _, info = env.step("<think>t</think><answer>Shakespeare</answer>")
        env.close()
        return info["transcript"], [(c["completion_tokens"], c["cost"]) for c in calls], reward

    pool = [{"name": "m1", "price_per_1m": 1.0}, {"name": "m2", "price_per_1m": 3.0}]
    local = transcript(RouterEnv(pool=pool, backend="replay", replay_files=[str(path)], shared_cost_window=None,
                                 protocol="chat"))
    with OpenAICompatServer(ReplayResponder.from_jsonl(path)) as server:
        remote_pool = [dict(m, base_url=server.base_url) for m in pool]
        remote = transcript(RouterEnv(pool=remote_pool, backend="openai", shared_cost_window=None, protocol="chat"))
    assert local == remote
    assert local[1] == [(5, 5.0), (9, 27.0)]


def test_router_r1_candidates_get_upstreams_request():
    """route_service.get_llm_response_via_api: one user message (AGENT_PROMPT around the raw query), the
    model id, temperature 0 (Gemma 0.1), top_p 1.0, seed 42, max_tokens 512."""
    seen = []

    def record(model, messages, params):
        seen.append((model, messages, params))
        return ChatReply("Answer: William Shakespeare", completion_tokens=12)

    with OpenAICompatServer(record) as server:
        env = RouterEnv(backend="openai", shared_cost_window=None,
                        pool=[dict(vars(m), base_url=server.base_url) for m in router_r1_pool()])
        env.reset(seed=0, options={"task": {"question": QUESTION, "golden_answers": ["William Shakespeare"]}})
        env.step(f"<think>a</think><search> Gemma:{QUESTION} </search>")
        env.step(f"<think>b</think><search> LLaMA-3.1-70B: {QUESTION} </search>")
        _, reward, _, _, info = env.step("<think>c</think><answer>William Shakespeare</answer>")
        env.close()
    (gemma, gemma_messages, gemma_params), (llama, llama_messages, llama_params) = seen
    assert (gemma, llama) == ("google/gemma-2-27b-it", "meta/llama-3.1-70b-instruct")
    assert gemma_messages == [{"role": "user", "content": candidate_prompt(QUESTION)}]
    assert llama_messages == [{"role": "user", "content": candidate_prompt(" " + QUESTION)}]
    assert (gemma_params["temperature"], llama_params["temperature"]) == (0.1, 0.0)
    assert all((p["top_p"], p["seed"], p["max_tokens"]) == (1.0, 42, 512) for p in (gemma_params, llama_params))
    assert info["cost"] == pytest.approx(12 * 0.8 + 12 * 0.88) and reward == 1.0


def test_a_reply_without_usage_is_charged_by_an_approximate_count():
    """A server that sends no ``usage`` must not make calls free (upstream would crash on it)."""
    reply = types.SimpleNamespace(choices=[types.SimpleNamespace(message=types.SimpleNamespace(content="a b, c"))],
                                  usage=None)

    class NoUsageBackend(OpenAIBackend):
        def _client(self, model):  # noqa: D401 - stands in for a client whose server omits usage
            return types.SimpleNamespace(chat=types.SimpleNamespace(
                completions=types.SimpleNamespace(create=lambda **request: reply)))

    model = ModelSpec("Qwen2.5-7B-Instruct", 0.3, base_url="http://127.0.0.1:9/v1")
    result = NoUsageBackend(CallSettings()).call(model, QUESTION)
    assert result.ok and result.completion_tokens == approximate_token_count("a b, c") == 4
