"""The OpenAI-compatible API policy, against a real server on 127.0.0.1."""

from __future__ import annotations

import threading

import pytest

from agentrl.core.config import ConfigError
from agentrl.core.policy import PolicyInput
from agentrl.core.trajectory import Turn
from agentrl.policies.api import APIPolicy, APIPolicyError, chat_messages, parse_api_spec
from agentrl.eval.policy_specs import make_policy
from agentrl.serving import OpenAICompatServer


def test_chat_messages_replay_the_episode():
    history = [Turn(observation="obs0", action="act0"), Turn(observation={"text": "obs1"}, action="act1")]
    item = PolicyInput(observation="obs2", instructions="rules", history=history)
    assert chat_messages(item) == [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": "obs0"},
        {"role": "assistant", "content": "act0"},
        {"role": "user", "content": "obs1"},
        {"role": "assistant", "content": "act1"},
        {"role": "user", "content": "obs2"},
    ]
    assert chat_messages(PolicyInput(observation="o"), system_prompt="")[0] == {"role": "user", "content": "o"}


def test_batched_act_sends_each_episode_and_returns_in_order():
    seen = []
    lock = threading.Lock()

    def responder(model, messages, params):
        with lock:
            seen.append((model, messages, params))
        return f"<answer>{messages[-1]['content']}</answer>"

    with OpenAICompatServer(responder) as server:
        with APIPolicy(model="router-m", base_url=server.base_url, max_tokens=33, seed=5, stop=["</answer>"],
                       concurrency=4) as policy:
            inputs = [PolicyInput(observation=f"q{i}", instructions="sys") for i in range(6)]
            outputs = policy.act(inputs)
    assert [o.text for o in outputs] == [f"<answer>q{i}</answer>" for i in range(6)]
    assert len(seen) == 6
    model, messages, params = seen[0]
    assert model == "router-m" and messages[0] == {"role": "system", "content": "sys"}
    assert (params["max_tokens"], params["seed"], params["stop"], params["temperature"]) == (33, 5, ["</answer>"], 0.0)


def test_server_error_surfaces_with_model_and_endpoint():
    def broken(model, messages, params):
        raise ValueError("no weights loaded")

    with OpenAICompatServer(broken) as server:
        policy = APIPolicy(model="m", base_url=server.base_url, max_retries=0)
        with pytest.raises(APIPolicyError) as raised:
            policy.act([PolicyInput(observation="x")])
        policy.close()
    message = str(raised.value)
    assert "'m'" in message and server.requests_served == 0
    assert "InternalServerError" in message and "no weights loaded" in message


def test_timeout_surfaces_as_api_policy_error():
    holder = {}

    def hang(model, messages, params):
        holder["server"].closing.wait(30)
        return "late"

    server = holder["server"] = OpenAICompatServer(hang)
    with server:
        policy = APIPolicy(model="m", base_url=server.base_url, timeout_s=0.3, max_retries=0)
        with pytest.raises(APIPolicyError, match="APITimeoutError"):
            policy.act([PolicyInput(observation="x")])
        policy.close()


def test_retries_recover_from_transient_500s():
    calls = []

    def flaky(model, messages, params):
        calls.append(1)
        if len(calls) <= 1:
            raise RuntimeError("transient")
        return "ok"

    with OpenAICompatServer(flaky) as server:
        with APIPolicy(model="m", base_url=server.base_url, max_retries=1) as policy:
            assert policy.act([PolicyInput(observation="x")])[0].text == "ok"
    assert len(calls) == 2


def test_length_finish_marks_generation_truncated():
    from agentrl.serving import ChatReply

    with OpenAICompatServer(lambda m, msgs, p: ChatReply("cut", finish_reason="length")) as server:
        with APIPolicy(model="m", base_url=server.base_url) as policy:
            assert policy.act([PolicyInput(observation="x")])[0].generation_truncated


def test_spec_parsing_and_factory(monkeypatch):
    assert parse_api_spec("org/model@http://127.0.0.1:9/v1") == ("org/model", "http://127.0.0.1:9/v1")
    assert parse_api_spec("a@b@http://h/v1") == ("a@b", "http://h/v1")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="api:MODEL@BASE_URL"):
        parse_api_spec("model-only")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert parse_api_spec("model-only") == ("model-only", "http://127.0.0.1:9/v1")
    policy = make_policy("api:m@http://127.0.0.1:9/v1")
    assert isinstance(policy, APIPolicy) and policy.config.model == "m"
    with pytest.raises(ConfigError, match="valid keys|unknown key"):
        APIPolicy(model="m", base_url="http://127.0.0.1:9/v1", temprature=0.5)


def test_eval_plays_sokoban_through_the_api():
    from agentrl.eval.evaluate import evaluate

    def always_up(model, messages, params):
        assert messages[0]["role"] == "system" and messages[-1]["role"] == "user"
        return "<think>go</think><answer>Up</answer>"

    with OpenAICompatServer(always_up) as server:
        result = evaluate("agentrl/Sokoban-v0", f"api:m@{server.base_url}", episodes=2, num_envs=2,
                          env_kwargs={"max_turns": 3})
        served = server.requests_served
    assert result["summary"]["episodes"] == 2
    turns = sum(e["turns"] for e in result["episodes"])
    assert served == turns and all(1 <= e["turns"] <= 3 for e in result["episodes"])
