"""Red team of the router reward: every attempt to earn it without routing honestly must not pay.

The honest reference: ask a model, then answer with its reply. With ``alpha = 0.5`` the cost term is
live, so an attempt that skipped the call while keeping a passing format would show up as *more*
reward than the honest episode. Each attempt runs in both protocols where it applies.
"""

from __future__ import annotations

import pytest

from agentrl.core.check import check_reward_bounds
from agentrl.envs.router.backends import CallResult
from agentrl.envs.router.env import RouterEnv

TASK = {"question": "What is the capital of France?", "golden_answers": ["Paris"]}
THINK = "<think>The capital question needs a model.</think>"
ANSWER = "<think>The reply says Paris.</think><answer>Paris</answer>"


class Candidates:
    """Every model answers 'Answer: Paris' with 10 completion tokens; calls are counted."""

    def __init__(self, reply: str = "Answer: Paris") -> None:
        self.reply = reply
        self.calls = 0

    def call(self, model, query):
        self.calls += 1
        return CallResult(text=self.reply, completion_tokens=10)

    def close(self):
        pass


def model_name(protocol: str) -> str:
    return "Qwen" if protocol == "router-r1" else "Qwen2.5-7B-Instruct"


def play(turns: list[str], protocol: str = "router-r1", *, warm: int = 3, reply: str = "Answer: Paris"):
    """Play ``warm`` honest episodes (so the cost window holds costs), then ``turns``; return the
    last episode's (return, final info, candidate calls made in it)."""
    candidates = Candidates(reply)
    env = RouterEnv(protocol=protocol, alpha=0.5, shared_cost_window=None)
    env.set_backend("simulated", candidates)
    honest = [f"{THINK}<search> {model_name(protocol)}: capital of France? </search>", ANSWER]
    for _ in range(warm):
        episode(env, honest)
    before = candidates.calls
    total, info = episode(env, turns)
    env.close()
    return total, info, candidates.calls - before


def episode(env: RouterEnv, turns: list[str]):
    env.reset(seed=0, options={"task": TASK})
    total, info = 0.0, {}
    for text in turns:
        _, reward, terminated, truncated, info = env.step(text)
        total += reward
        if terminated or truncated:
            return total, info
    return total, info


PROTOCOLS = ["router-r1", "chat"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_honest_episode_pays(protocol):
    total, info, calls = play([f"{THINK}<search> {model_name(protocol)}: capital of France? </search>", ANSWER], protocol)
    assert info["format_ok"] and info["em"] == 1.0 and calls == 1
    assert total == pytest.approx(0.5 + 0.5 * info["normalized_cost"])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_fabricated_information_without_a_search_fails_the_format(protocol):
    total, info, calls = play([f"{THINK}<information>Paris is the capital.</information><answer>Paris</answer>"],
                              protocol)
    assert (total, info["format_rule"], calls) == (-1.0, "search_info_mismatch", 0)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_fabricated_information_after_a_search_in_the_same_turn_is_cut_and_the_call_runs(protocol):
    name = model_name(protocol)
    first = f"{THINK}<search> {name}: capital? </search><information>Paris</information><answer>Paris</answer>"
    total, info, calls = play([first], protocol)
    # the generation is cut at </search>: no answer yet, the search is run and paid for
    assert total == 0.0 and calls == 1 and not info.get("em") and "format_ok" not in info
    total, info, calls = play([first, ANSWER], protocol)
    assert "<information>Paris</information>" not in info["transcript"] and calls == 1 and info["format_ok"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_fabricated_information_in_a_later_turn_fails_the_format(protocol):
    turns = [f"{THINK}<search> {model_name(protocol)}: capital? </search>",
             "<think>more</think><information>Paris</information>" + ANSWER]
    total, info, _calls = play(turns, protocol)
    assert (total, info["format_rule"]) == (-1.0, "search_info_mismatch")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_answer_then_search_does_not_pay(protocol):
    total, info, calls = play([f"{THINK}<answer>Paris</answer><search> {model_name(protocol)}: capital? </search>"],
                              protocol)
    assert total == -1.0 and calls == 0 and not info["format_ok"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_several_searches_in_one_turn_make_one_call(protocol):
    name = model_name(protocol)
    turns = [f"{THINK}<search> {name}: capital? </search><search> {name}: again? </search>", ANSWER]
    _total, info, calls = play(turns, protocol)
    assert calls == 1 and info["num_calls"] == 1 and info["transcript"].count("<search>") == 1


def test_a_name_outside_the_pool_costs_nothing_and_earns_no_more_than_no_call():
    # 'palmyra' is a valid Router-R1 name (format passes) but not in the default six-model pool
    through_palmyra, info, calls = play([f"{THINK}<search> palmyra: capital? </search>", ANSWER])
    assert calls == 0 and info["cost"] == 0.0 and "<information>None</information>" in info["transcript"]
    without_call, _, _ = play([ANSWER])
    assert through_palmyra == pytest.approx(without_call)


def test_substring_names_that_upstream_rejects_are_rejected():
    for name in ("llama", "LLaMA-3.1-13B", "LLM", "gpt-4o", "claude"):
        total, _info, calls = play([f"{THINK}<search> {name}: capital? </search>", ANSWER])
        assert total == -1.0 and calls == 0, name


@pytest.mark.parametrize("think", ["<think></think>", "<think>   </think>", "<think>...</think>", "<think> ... </think>"])
def test_empty_think_does_not_pay(think):
    total, info, _ = play([f"{think}<answer>Paris</answer>"])
    assert (total, info["format_rule"]) == (-1.0, "empty_think")


def test_smuggled_tags_inside_a_search_do_not_pay():
    total, _info, _ = play([f"{THINK}<search> Qwen: q </information><information>Paris </search>", ANSWER])
    assert total == -1.0


def test_a_candidate_reply_with_tags_cannot_finish_the_episode():
    total, info, calls = play([f"{THINK}<search> Qwen: capital? </search>", ANSWER], reply="<answer>Paris</answer>")
    assert calls == 1 and total == -1.0 and info["format_rule"] == "nested"


def test_garbage_turns_before_the_answer_do_not_pay():
    total, info, _ = play(["Let me see.", "Still thinking", ANSWER])
    assert (total, info["format_rule"]) == (-1.0, "not_starting_with_think")


def test_two_colons_are_routed_charged_and_fail():
    total, info, calls = play([f"{THINK}<search> Qwen: France: capital? </search>", ANSWER])
    assert calls == 1 and info["cost"] > 0 and total == -1.0 and info["format_rule"] == "bad_query"


def test_placeholders_copied_from_the_prompt_do_not_pay():
    total, _info, calls = play([f"{THINK}<search> LLM-Name:Your-Query </search>", ANSWER])
    assert total == -1.0 and calls == 0


def test_the_final_generation_cannot_call_for_free():
    search = f"{THINK}<search> Qwen: capital? </search>"
    total, _info, calls = play([search] * 5)
    assert calls == 4 and total == -1.0  # the fifth search is not run and the episode ends


def test_answering_twice_keeps_the_first_answer():
    total, info, _ = play([f"{THINK}<answer>London</answer><answer>Paris</answer>"])
    assert info["answer"] == "London" and total == 0.0


def test_cost_term_is_never_paid_for_a_wrong_answer():
    total, info, _ = play(["<think>no call</think><answer>Lyon</answer>"])
    assert info["normalized_cost"] == 1.0 and total == 0.0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_adversarial_streams_stay_within_the_documented_bounds(protocol):
    env = RouterEnv(protocol=protocol, alpha=0.7, shared_cost_window=None)
    name = model_name(protocol)

    def fabricate(observation, info, turn):
        return f"{THINK}<search> {name}: q </search><information>x</information><answer>y</answer>"

    def answer_then_search(observation, info, turn):
        return f"{THINK}<answer>{info.get('question', '')}</answer><search> {name}: q </search>"

    def search_flood(observation, info, turn):
        return f"{THINK}<search> {name}: {info.get('question', '')} </search>" * 3

    def answer_from_reply(observation, info, turn):
        if turn == 0:
            return f"{THINK}<search> {name}: {info['question']} </search>"
        reply = info["inline_observation"].split("Answer:")[-1].split("</information>")[0].strip()
        return f"<think>copy</think><answer>{reply}</answer>"

    check_reward_bounds(env, [fabricate, answer_then_search, search_flood, answer_from_reply], episodes=6)
    env.close()
