"""Ready-made responders: a tiny transformers model and recorded JSONL replies, served over HTTP."""

from __future__ import annotations

import json

import openai
import pytest
import torch

from agentrl.models import tiny_causal_lm, tiny_tokenizer
from agentrl.serving import CausalLMResponder, OpenAICompatServer, ReplayResponder, ReplayTable


@pytest.fixture(scope="module")
def tiny_responder():
    return CausalLMResponder(tiny_causal_lm(seed=0), tiny_tokenizer(), max_new_tokens=6)


def chat(server, model, content, **kwargs):
    client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=30)
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}], **kwargs)


def test_causal_lm_responder_matches_direct_greedy_generation(tiny_responder):
    tokenizer = tiny_responder.tokenizer
    messages = [{"role": "user", "content": "Which model?"}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    encoded = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        direct = tiny_responder.model.generate(**encoded, max_new_tokens=4, do_sample=False,
                                               pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    new_ids = direct[0, encoded["input_ids"].shape[1]:].tolist()
    if tokenizer.eos_token_id in new_ids:
        new_ids = new_ids[: new_ids.index(tokenizer.eos_token_id)]
    expected = tokenizer.decode(new_ids, skip_special_tokens=True)

    with OpenAICompatServer(tiny_responder) as server:
        first = chat(server, "tiny", "Which model?", max_tokens=4)
        second = chat(server, "tiny", "Which model?", max_tokens=4)
    assert first.choices[0].message.content == expected == second.choices[0].message.content
    assert first.usage.prompt_tokens == encoded["input_ids"].shape[1]
    assert first.usage.completion_tokens == len(new_ids) <= 4
    assert first.choices[0].finish_reason == ("length" if len(new_ids) == 4 else "stop")


def test_causal_lm_reply_accounting(tiny_responder):
    eos = tiny_responder.tokenizer.eos_token_id
    letters = tiny_responder.tokenizer.convert_tokens_to_ids(["a", "b", "c", "d"])
    stopped = tiny_responder._reply(letters[:2] + [eos] + letters[2:], prompt_tokens=5, limit=10, stop=None)
    assert (stopped.text, stopped.completion_tokens, stopped.finish_reason) == ("ab", 2, "stop")
    capped = tiny_responder._reply(letters, prompt_tokens=5, limit=4, stop=None)
    assert (capped.text, capped.completion_tokens, capped.finish_reason) == ("abcd", 4, "length")
    cut = tiny_responder._reply(letters, prompt_tokens=5, limit=4, stop=["c"])
    assert (cut.text, cut.finish_reason, cut.stop_reason) == ("ab", "stop", "c")
    assert tiny_responder._reply(letters, prompt_tokens=5, limit=10, stop=None).stop_reason is None


def test_sampling_with_a_seed_is_reproducible(tiny_responder):
    params = {"max_tokens": 6, "temperature": 1.0, "seed": 11}
    messages = [{"role": "user", "content": "roll"}]
    assert tiny_responder("tiny", messages, params).text == tiny_responder("tiny", messages, dict(params)).text


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_replay_responder_serves_recorded_answers(tmp_path):
    path = tmp_path / "recorded.jsonl"
    write_jsonl(path, [
        {"model": "Qwen-7B", "query": "Who wrote Hamlet?", "response": "Shakespeare", "completion_tokens": 3,
         "prompt_tokens": 8},
        {"model": "llama-70b", "query": "Who wrote Hamlet?", "response": "William Shakespeare"},
    ])
    with OpenAICompatServer(ReplayResponder.from_jsonl(path)) as server:
        recorded = chat(server, "qwen-7b", "  Who   wrote Hamlet? ")
        assert recorded.choices[0].message.content == "Shakespeare"
        assert (recorded.usage.prompt_tokens, recorded.usage.completion_tokens) == (8, 3)
        counted = chat(server, "LLAMA-70B", "Who wrote Hamlet?")
        assert counted.choices[0].message.content == "William Shakespeare"
        assert counted.usage.completion_tokens == 2  # no recorded count: approximated by the server
        with pytest.raises(openai.InternalServerError) as raised:
            chat(server, "qwen-7b", "Who wrote Macbeth?")
    assert "Qwen-7B, llama-70b" in str(raised.value)


def test_replay_uses_the_last_user_message(tmp_path):
    table = ReplayTable([{"model": "m", "query": "second", "response": "2"}])
    responder = ReplayResponder(table)
    messages = [{"role": "user", "content": "first"}, {"role": "assistant", "content": "1"},
                {"role": "user", "content": "second"}, {"role": "assistant", "content": "ignored"}]
    assert responder("m", messages, {}).text == "2"
    with pytest.raises(ValueError, match="no user message"):
        responder("m", [{"role": "system", "content": "x"}], {})
