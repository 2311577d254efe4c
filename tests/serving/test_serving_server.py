"""The OpenAI-compatible server, exercised through the real ``openai`` client on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import openai
import pytest

from agentrl.serving import ChatReply, OpenAICompatServer, approximate_token_count
from agentrl.serving.openai_server import THREAD_PREFIX


def echo_upper(model: str, messages: list[dict], params: dict) -> str:
    if messages[-1]["content"] == "fail please":
        raise RuntimeError("the model fell over")
    return f"{model}: {messages[-1]['content'].upper()}"


def client_for(server: OpenAICompatServer, timeout: float = 10.0, api_key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=api_key, max_retries=0, timeout=timeout)


def server_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


def test_round_trip_with_usage_counts():
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello, world"}]
    with OpenAICompatServer(echo_upper) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        reply = client_for(server).chat.completions.create(model="m1", messages=messages, temperature=0.5)
    assert reply.choices[0].message.content == "m1: HELLO, WORLD"
    assert reply.choices[0].finish_reason == "stop"
    # "Be brief." = Be, brief, .  (3); "hello, world" = hello, ",", world (3)
    assert reply.usage.prompt_tokens == 6
    # "m1: HELLO, WORLD" = m1, :, HELLO, ",", WORLD
    assert reply.usage.completion_tokens == 5
    assert reply.usage.total_tokens == 11
    assert reply.model == "m1"


def test_stop_reason_and_extra_body_reach_the_client_and_the_responder():
    seen = {}

    def stopper(model, messages, params):
        seen.update(params)
        return ChatReply("<search> q", stop_reason="</search>")

    with OpenAICompatServer(stopper) as server:
        reply = client_for(server).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stop=["</search>"],
            extra_body={"continue_final_message": True})
    assert reply.choices[0].stop_reason == "</search>" and reply.choices[0].message.content == "<search> q"
    assert seen["stop"] == ["</search>"] and seen["continue_final_message"] is True


def test_approximate_token_count_counts_words_and_punctuation():
    assert approximate_token_count("") == 0
    assert approximate_token_count("a b  c") == 3
    assert approximate_token_count("It's 3.5!") == 7  # It ' s 3 . 5 !


def test_params_reach_the_responder_and_chat_reply_counts_are_kept():
    seen = {}

    def responder(model, messages, params):
        seen.update(params)
        return ChatReply("ok", prompt_tokens=123, completion_tokens=7, finish_reason="length")

    with OpenAICompatServer(responder) as server:
        reply = client_for(server).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "q"}], max_tokens=9, temperature=0.0, seed=3,
        )
    assert (seen["max_tokens"], seen["temperature"], seen["seed"]) == (9, 0.0, 3)
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (123, 7)
    assert reply.choices[0].finish_reason == "length"


def test_n_choices_call_the_responder_n_times():
    calls = []

    def counting(model, messages, params):
        calls.append(1)
        return f"answer {len(calls)}"

    with OpenAICompatServer(counting) as server:
        reply = client_for(server).chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}], n=3)
    assert [c.message.content for c in reply.choices] == ["answer 1", "answer 2", "answer 3"]
    assert reply.usage.completion_tokens == 6


def test_responder_exception_is_a_500_naming_the_error():
    with OpenAICompatServer(echo_upper) as server:
        with pytest.raises(openai.InternalServerError) as raised:
            client_for(server).chat.completions.create(model="m", messages=[{"role": "user", "content": "fail please"}])
        assert raised.value.status_code == 500
        assert "RuntimeError: the model fell over" in str(raised.value)
        # the server keeps serving after a failure
        ok = client_for(server).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert ok.choices[0].message.content == "m: X"
        assert server.requests_served == 1


def test_blocking_responder_times_the_client_out_and_stop_is_prompt():
    holder: dict[str, OpenAICompatServer] = {}

    def hang(model, messages, params):
        holder["server"].closing.wait(30)
        return "too late"

    server = holder["server"] = OpenAICompatServer(hang)
    with server:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            client_for(server, timeout=0.3).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert time.monotonic() - started < 5
        stop_started = time.monotonic()
    assert time.monotonic() - stop_started < 5
    assert server_threads() == []


def test_model_list_and_unknown_model_404():
    with OpenAICompatServer(echo_upper, models=["alpha", "beta"]) as server:
        client = client_for(server)
        assert [m.id for m in client.models.list()] == ["alpha", "beta"]
        with pytest.raises(openai.NotFoundError) as raised:
            client.chat.completions.create(model="gamma", messages=[{"role": "user", "content": "x"}])
        assert "alpha, beta" in str(raised.value)


def test_api_key_is_enforced_when_set():
    with OpenAICompatServer(echo_upper, api_key="sekrit") as server:
        with pytest.raises(openai.AuthenticationError):
            client_for(server, api_key="wrong").chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        reply = client_for(server, api_key="sekrit").chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}])
        assert reply.choices[0].message.content == "m: X"


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"{not json", "not valid JSON"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "'model'"),
        (b'{"model": "m", "messages": []}', "'messages'"),
        (b'{"model": "m", "messages": [{"content": "x"}]}', "'role'"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": true}', "streaming"),
        (b'[1, 2]', "JSON object"),
    ],
)
def test_malformed_requests_are_400_with_a_reason(body, fragment):
    with OpenAICompatServer(echo_upper) as server:
        response = httpx.post(server.base_url + "/chat/completions", content=body,
                              headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_content_parts_are_joined_into_text():
    with OpenAICompatServer(echo_upper) as server:
        reply = client_for(server).chat.completions.create(
            model="m", messages=[{"role": "user", "content": [{"type": "text", "text": "ab"}, {"type": "text", "text": "cd"}]}],
        )
    assert reply.choices[0].message.content == "m: ABCD"


def test_non_string_reply_is_a_500():
    with OpenAICompatServer(lambda model, messages, params: 42) as server:
        with pytest.raises(openai.InternalServerError) as raised:
            client_for(server).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert "expected str or ChatReply" in str(raised.value)


def test_shutdown_frees_the_port_and_leaves_no_threads():
    with OpenAICompatServer(echo_upper) as server:
        port = server.port
        assert server_threads()
    assert server_threads() == []
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url
    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    probe.bind(("127.0.0.1", port))  # the port is free again
    probe.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1.0)


def test_restart_after_stop_and_double_start_error():
    server = OpenAICompatServer(echo_upper)
    with server:
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
    with server:
        assert client_for(server).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "again"}]).choices[0].message.content == "m: AGAIN"
    assert server_threads() == []


def test_only_loopback_hosts_are_allowed():
    with pytest.raises(ValueError, match="loopback"):
        OpenAICompatServer(echo_upper, host="0.0.0.0")


def test_concurrent_requests_are_served_in_parallel():
    barrier = threading.Barrier(3, timeout=5)

    def rendezvous(model, messages, params):
        barrier.wait()  # only returns once three requests are in flight at the same time
        return "met"

    with OpenAICompatServer(rendezvous) as server:
        client = client_for(server, timeout=10)
        results: list[str] = []

        def call():
            results.append(client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}]).choices[0].message.content)

        threads = [threading.Thread(target=call) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert results == ["met"] * 3


def test_loopback_round_trip_does_not_wait_for_delayed_acks():
    """Responses go out in two writes (headers, body); without TCP_NODELAY on the accepted socket
    each call stalls ~40 ms on the client's delayed ACK. A healthy call takes a few ms."""
    import statistics

    with OpenAICompatServer(echo_upper) as server:
        client = client_for(server)
        times = []
        for _ in range(15):
            started = time.perf_counter()
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
            times.append(time.perf_counter() - started)
    assert statistics.median(times[3:]) < 0.030
