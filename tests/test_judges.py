"""Judges: prompt structure, robust parsing, and the three backends on real components."""

from __future__ import annotations

import threading

import pytest

from agentrl.core.config import ConfigError
from agentrl.judges import (
    HFJudge,
    JudgeError,
    OpenAIJudge,
    OracleJudge,
    UnparseableReply,
    decompose_prompt,
    judge_prompt,
    make_judge,
    parse_judgment,
    parse_subgoals,
)

GOALS = ["pick up the key", "open the door"]


# ------------------------------------------------------------------------------ prompts
def test_judge_prompt_follows_the_paper_structure():
    prompt = judge_prompt(
        "Escape the room.", GOALS, "you see a key", "pick up", "you hold a key", symbols="@ is you"
    )
    titles = [
        "## Role",
        "## Symbols",
        "## Task",
        "## Subgoals",
        "## Transition",
        "## Instruction",
        "## Output format",
    ]
    positions = [prompt.index(t) for t in titles]
    assert positions == sorted(positions)
    assert "@ is you" in prompt and "Escape the room." in prompt
    assert "1. pick up the key\n2. open the door" in prompt
    assert "Observation:\nyou see a key" in prompt and "Action:\npick up" in prompt
    assert "Next observation:\nyou hold a key" in prompt
    assert "dictionary" in prompt


def test_decompose_prompt_asks_for_a_list():
    prompt = decompose_prompt("Escape the room.")
    assert prompt.index("## Role") < prompt.index("## Task") < prompt.index("## Output format")
    assert "list of strings" in prompt


# ------------------------------------------------------------------------------ parsing
@pytest.mark.parametrize(
    "reply",
    [
        '{"pick up the key": true, "open the door": false}',
        "Sure.\n```python\n{'Pick up the key.': True, 'open the door': 'no'}\n```",
        "{1: True, 2: False}",
        "{'1': 'yes', '2': 0}",
        "pick up the key: yes\nopen the door: no",
        "{pick up the key: True, open the door: False}",
        'First guess {"pick up the key": false, "open the door": false};'
        ' final {"pick up the key": 1, "open the door": 0}',
    ],
)
def test_parse_judgment_accepts_common_shapes(reply):
    assert parse_judgment(reply, GOALS) == {"pick up the key": True, "open the door": False}


@pytest.mark.parametrize(
    "reply",
    ["", "garbage !!", '{"pick up the key": true}', '{"pick up the key": "maybe", "open the door": false}'],
)
def test_parse_judgment_refuses_to_guess(reply):
    with pytest.raises(UnparseableReply) as info:
        parse_judgment(reply, GOALS)
    assert info.value.reply == reply


@pytest.mark.parametrize(
    "reply, expected",
    [
        ('["get the key", "open the door"]', ["get the key", "open the door"]),
        ("Subgoals:\n1. get the key\n2) open the door", ["get the key", "open the door"]),
        ("- get the key\n* open the door", ["get the key", "open the door"]),
    ],
)
def test_parse_subgoals(reply, expected):
    assert parse_subgoals(reply) == expected


def test_parse_subgoals_refuses_prose():
    with pytest.raises(UnparseableReply):
        parse_subgoals("I am not sure what to do.")


# ------------------------------------------------------------------------------ backends
def test_oracle_reads_the_env_checks():
    judge = OracleJudge()
    info = {"subgoals": {"pick up the key": True, "open the door": False}}
    assert judge.judge("o", "a", "n", GOALS, info=info) == {"pick up the key": True, "open the door": False}
    with pytest.raises(JudgeError, match="info\\['subgoals'\\]"):
        judge.judge("o", "a", "n", GOALS, info={})
    with pytest.raises(JudgeError, match="no check"):
        judge.judge("o", "a", "n", ["fly"], info=info)
    with pytest.raises(JudgeError, match="env-provided subgoals"):
        judge.decompose("Escape the room.")


def test_make_judge_specs():
    assert isinstance(make_judge("oracle"), OracleJudge)
    assert isinstance(
        make_judge({"type": "OpenAIJudge", "model": "m", "base_url": "http://127.0.0.1:1/v1"}), OpenAIJudge
    )
    judge = OracleJudge()
    assert make_judge(judge) is judge
    with pytest.raises(ConfigError, match="OracleJudge"):
        make_judge("gpt-judge")
    with pytest.raises(ConfigError, match="model=NAME"):
        OpenAIJudge()


def test_hf_judge_with_the_tiny_model_reports_unparseable_not_false():
    judge = HFJudge(model="tiny", max_new_tokens=12)
    with pytest.raises(UnparseableReply) as info:
        judge.judge("#_@$.#", "<answer>Up</answer>", "#_@*_#", ["1 box on goals"], task="Sokoban")
    assert isinstance(info.value.reply, str)
    assert judge.cache_id().startswith("HFJudge:tiny:")


def test_hf_judge_with_a_model_object_needs_a_tokenizer():
    from agentrl.models import tiny_causal_lm, tiny_tokenizer

    model = tiny_causal_lm(hidden_size=32, num_layers=1, num_heads=2)
    with pytest.raises(ConfigError, match="tokenizer"):
        HFJudge(model=model).complete("hi")
    judge = HFJudge(model=model, tokenizer=tiny_tokenizer(), max_new_tokens=4)
    assert isinstance(judge.complete("hi"), str)
    other = HFJudge(model=tiny_causal_lm(hidden_size=32, num_layers=1, num_heads=2, seed=9), tokenizer="tiny")
    assert judge.cache_id() != other.cache_id()  # different weights never share cache entries


def test_openai_judge_against_a_loopback_server():
    from agentrl.serving.openai_server import OpenAICompatServer

    seen = []

    def responder(model, messages, params):
        seen.append((model, messages[-1]["content"], params))
        return '```json\n{"pick up the key": true, "open the door": false}\n```'

    with OpenAICompatServer(responder) as server:
        judge = OpenAIJudge(model="judge-model", base_url=server.base_url, timeout=10)
        verdict = judge.judge("you see a key", "pick up", "you hold a key", GOALS, task="Escape.")
        judge.close()
    assert verdict == {"pick up the key": True, "open the door": False}
    model, prompt, params = seen[0]
    assert model == "judge-model" and "## Transition" in prompt and params.get("temperature") == 0.0


def test_openai_judge_server_error_and_timeout_are_judge_errors():
    from agentrl.serving.openai_server import OpenAICompatServer

    def failing(model, messages, params):
        raise RuntimeError("backend exploded")

    with OpenAICompatServer(failing) as server:
        judge = OpenAIJudge(model="m", base_url=server.base_url, max_retries=0, timeout=10)
        with pytest.raises(JudgeError) as info:
            judge.judge("o", "a", "n", GOALS)
        assert not isinstance(info.value, UnparseableReply)
        judge.close()

    release = threading.Event()

    def slow(model, messages, params):
        release.wait(5.0)
        return "{}"

    with OpenAICompatServer(slow, shutdown_timeout=1.0) as server:
        judge = OpenAIJudge(model="m", base_url=server.base_url, max_retries=0, timeout=0.3)
        with pytest.raises(JudgeError, match="Timeout"):
            judge.judge("o", "a", "n", GOALS)
        release.set()
        judge.close()
