"""Router-R1 format rules, table-driven: for every rule a transcript that breaks it and a near
copy that does not."""

from __future__ import annotations

import pytest

from agentrl.envs.router.pool import ModelPool, ModelSpec
from agentrl.envs.router.protocol import (
    FORMAT_RULES,
    check_format,
    cut_generation,
    final_answer_text,
    first_action,
    information_block,
    normalize_model_name,
    route_count,
    route_parts,
    split_search,
)

POOL = ModelPool([ModelSpec("Qwen-7B", 0.2), ModelSpec("llama-70b", 0.9, aliases=["llama"])])
INFO = "\n\n<information>Paris is the capital.</information>\n\n"
CALL = f"<think>need facts</think><search> Qwen-7B: capital of France? </search>{INFO}"
END = "<think>b</think><answer>c</answer>"  # closes a transcript after CALL

# (rule, a transcript that violates it, a near copy that is valid)
CASES = [
    ("no_tags", "Paris", "<think>easy</think><answer>Paris</answer>"),
    ("no_tags", "<think>never closed <answer>Paris", "<think>closed</think><answer>Paris</answer>"),
    ("unbalanced", "<think>a</think><answer>b</answer></answer>", "<think>a</think><answer>b</answer>"),
    ("unbalanced", "<think>a</think><think>b<answer>c</answer>", "<think>a</think><think>b</think><answer>c</answer>"),
    ("unbalanced", CALL.replace("</information>", "") + END,
     CALL + END),
    ("empty_think", "<think></think><answer>b</answer>", "<think>x</think><answer>b</answer>"),
    ("empty_think", "<think> ... </think><answer>b</answer>", "<think>...ok</think><answer>b</answer>"),
    ("empty_think", CALL + "<think>  </think><answer>b</answer>", CALL + "<think>done</think><answer>b</answer>"),
    ("nested", "<think>a <answer>b</answer></think><answer>b</answer>", "<think>a answer b</think><answer>b</answer>"),
    ("nested", "<think>a</think><search> Qwen-7B: q </search><information><think>x</think></information>"
               "<think>b</think><answer>c</answer>",
     "<think>a</think><search> Qwen-7B: q </search><information>think x</information><think>b</think><answer>c</answer>"),
    ("answer_count", "<think>a</think>", "<think>a</think><answer>b</answer>"),
    ("answer_count", "<think>a</think><answer>b</answer><think>c</think><answer>d</answer>",
     "<think>a</think><think>c</think><answer>d</answer>"),
    ("missing_think", "<answer>b</answer>", "<think>a</think><answer>b</answer>"),
    ("search_info_mismatch", "<think>a</think><search> Qwen-7B: q </search><think>b</think><answer>c</answer>",
     "<think>a</think><search> Qwen-7B: q </search><information>r</information><think>b</think><answer>c</answer>"),
    ("search_info_mismatch", "<think>a</think><information>made up</information><answer>c</answer>",
     "<think>a</think><answer>c</answer>"),
    ("not_starting_with_think", "Sure. <think>a</think><answer>b</answer>", "  <think>a</think><answer>b</answer>"),
    ("not_starting_with_think", f"<search> Qwen-7B: q </search>{INFO}<think>a</think><answer>b</answer>",
     f"<think>first</think><search> Qwen-7B: q </search>{INFO}<think>a</think><answer>b</answer>"),
    ("not_ending_with_answer", "<think>a</think><answer>b</answer> Hope that helps!",
     "<think>a</think><answer>b</answer>\n"),
    ("not_ending_with_answer", "<think>a</think><answer>b</answer><think>c</think>",
     "<think>a</think><think>c</think><answer>b</answer>"),
    ("bad_query", CALL.replace("Qwen-7B: capital of France?", "Qwen-7B capital of France?") + END,
     CALL + END),
    ("bad_query", CALL.replace("capital of France?", "time: 10:30?") + END,
     CALL.replace("capital of France?", "time 10h30?") + END),
    ("bad_query", CALL.replace("capital of France?", " ") + END,
     CALL.replace("capital of France?", "q") + END),
    ("bad_query", CALL.replace("Qwen-7B: capital of France?", "LLM-Name: Your-Query") + END,
     CALL + END),
    ("bad_query", CALL.replace("capital of France?", "ask qwen-7b about France") + END,
     CALL.replace("capital of France?", "ask about France") + END),
    ("unknown_model", CALL.replace("Qwen-7B", "gpt-9") + END,
     CALL.replace("Qwen-7B", "qwen-7b") + END),
    ("unknown_model", CALL.replace("Qwen-7B", "Qwen") + END,
     CALL.replace("Qwen-7B", "LLAMA") + END),
]


def verdict(transcript: str):
    return check_format(transcript, lambda name: name in POOL)


@pytest.mark.parametrize("rule, invalid, valid", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_rule_rejects_its_violation_and_accepts_the_fix(rule, invalid, valid):
    bad = verdict(invalid)
    assert (bad.rule, bad.reward) == (rule, -1.0), bad
    assert bad.detail
    good = verdict(valid)
    assert (good.rule, good.reward, good.ok) == (None, 0.0, True), good


def test_every_rule_is_covered_by_the_table():
    assert {case[0] for case in CASES} == set(FORMAT_RULES)


def test_rules_are_judged_in_router_r1_order():
    # empty think and an unknown model at once: Router-R1 checks the think rule first
    both = "<think></think><search> gpt-9: q </search><information>x</information><think>b</think><answer>c</answer>"
    assert verdict(both).rule == "empty_think"
    # a bad query and an unknown model: the query rule is checked before the name rule
    both = "<think>a</think><search> gpt-9 q </search><information>x</information><think>b</think>" \
           "<search> gpt-9: q </search><information>y</information><answer>c</answer>"
    assert verdict(both).rule == "bad_query"


def test_model_names_match_case_and_space_insensitively():
    assert normalize_model_name(" Llama - 70B ") == "llama-70b"
    assert POOL.resolve("LLAMA-70B").name == "llama-70b"
    assert POOL.resolve("llama 70b") is None  # spaces are removed, not turned into dashes
    assert POOL.resolve("llama").name == "llama-70b"  # alias
    assert POOL.resolve("qwen") is None


def test_split_search():
    call, reason = split_search("  Qwen-7B :  Who wrote Hamlet? ")
    assert (call.model, call.query, reason) == ("Qwen-7B", "Who wrote Hamlet?", "")
    for body in ("no colon here", "a: b: c", "m:   ", "LLM-Name: q", "m: Your-Query", "geo: geography?"):
        call, reason = split_search(body)
        assert call is None and reason, body


def test_cut_generation_keeps_what_router_r1_keeps():
    # _postprocess_responses: the first </search> wins over any </answer>; else the first </answer>
    assert cut_generation("<think>a</think><answer>x</answer> trailing <answer>y</answer>") == \
        "<think>a</think><answer>x</answer>"
    assert cut_generation("<think>a</think><search>m: q</search> then I wait") == "<think>a</think><search>m: q</search>"
    assert cut_generation("<search>m: 1</search><search>m: 2</search>!") == "<search>m: 1</search>"
    assert cut_generation("<answer>x</answer><search>m: q</search>tail") == "<answer>x</answer><search>m: q</search>"
    assert cut_generation("no tags") == "no tags"


def test_first_action_and_routing_split():
    assert first_action("<think>a</think><answer> x </answer>") == first_action("<answer>x</answer>")
    assert first_action("<answer>x</answer><search>m: q</search>").kind == "answer"
    assert (first_action("<search> m: q </search><answer>x</answer>").kind,
            first_action("<search> m: q </search>").content) == ("search", "m: q")
    for body in ("LLM-Name: q", "m: Your-Query", "no colon", "m:  ", "m: a:"):
        assert first_action(f"<search>{body}</search>").kind == "bad-search", body
    assert first_action("<search>m: a: b</search>").kind == "search"  # routed; the format rule fails it later
    assert first_action("just text").kind is None and first_action("<search>m: q").kind is None
    assert route_parts("Qwen: time: 10:30") == ("Qwen", " time")
    assert route_parts("LLaMA 70B :Who?") == ("LLaMA 70B", "Who?")


def test_route_count_keeps_upstreams_sticky_flags():
    valid = lambda name: name.strip().lower() in ("qwen", "gemma")
    assert route_count("<search>qwen: a</search><search>gemma: b</search>", valid) == 2
    # after one invalid search nothing counts any more (upstream never resets its flags)
    assert route_count("<search>gpt: a</search><search>qwen: b</search>", valid) == 0
    assert route_count("<search>qwen: a</search><search>no colon</search><search>qwen: c</search>", valid) == 1


def test_information_block_and_final_answer():
    assert information_block(None) == "\n\n<information>None</information>\n\n"
    assert information_block("  hi ") == "\n\n<information>hi</information>\n\n"
    assert final_answer_text("blah blah Answer: Paris\nmore") == "Paris"
    assert final_answer_text("Answer: 3 ... Answer: 4") == "4"
    assert final_answer_text("  Just Paris  ") == "Just Paris"
    assert final_answer_text("") == ""
