"""Model routers that generate the way Router-R1's ``run_llm_loop`` does: the reply rebuilt from the
env's per-turn pieces, token contexts concatenated piece by piece, stop strings and their tags."""

from __future__ import annotations

import pytest

from agentrl.core.policy import PolicyInput
from agentrl.core.trajectory import Turn
from agentrl.envs.router.env import RouterEnv
from agentrl.envs.router.routers import APIRouter, HFRouter, RouterGeneration, close_stopped_tag, reply_so_far
from agentrl.serving import ChatReply, OpenAICompatServer, cut_at_stop

TASK = {"question": "What is the capital of Peru?", "golden_answers": ["Lima"]}
FIRST = "<think>geography</think>\n<search> Gemma: What is the capital of Peru? </search>"


def played_input() -> tuple[PolicyInput, str, dict]:
    """An episode after one routed generation (the simulated pool answers)."""
    env = RouterEnv(shared_cost_window=None)
    prompt, _info = env.reset(seed=0, options={"task": TASK})
    observation, _reward, _, _, step_info = env.step(FIRST + " and then some text upstream cuts")
    history = [Turn(observation=prompt, action=FIRST + " and then some text upstream cuts", info=step_info)]
    return PolicyInput(observation=observation, history=history, info=step_info), prompt, step_info


def test_reply_so_far_is_the_response_upstream_continues():
    item, prompt, info = played_input()
    first, pieces = reply_so_far(item)
    assert first == prompt and pieces == [FIRST, info["inline_observation"]]
    assert info["inline_observation"].startswith("\n\n<information>") and "cuts" not in "".join(pieces)
    fresh = PolicyInput(observation=prompt)
    assert reply_so_far(fresh) == (prompt, [])


@pytest.mark.parametrize("text, stopped_on, expected", [
    ("<think>a</think><search> Qwen: q", "</search>", "<think>a</think><search> Qwen: q</search>"),
    ("<think>a</think><answer>Lima", "</answer>", "<think>a</think><answer>Lima</answer>"),
    ("<think>a</think><answer>Lima", None, "<think>a</think><answer>Lima</answer>"),  # no stop_reason: the open tag
    ("<think>a</think><search> Qwen: q", None, "<think>a</think><search> Qwen: q</search>"),
    ("<think>done</think>", None, "<think>done</think>"),  # EOS: nothing to close
])
def test_close_stopped_tag(text, stopped_on, expected):
    assert close_stopped_tag(text, stopped_on, ["</search>", "</answer>"]) == expected


def test_cut_at_stop_is_openai_semantics():
    assert cut_at_stop("<search> q </search> more </answer>", ["</answer>", "</search>"]) == ("<search> q ", "</search>")
    assert cut_at_stop("no stop here", "</search>") == ("no stop here", None)
    assert cut_at_stop("x", None) == ("x", None)


@pytest.mark.slow  # builds the tiny transformers model
def test_hf_router_context_is_upstreams_piecewise_concatenation():
    from agentrl.models import tiny_causal_lm, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    generation = RouterGeneration(max_new_tokens=6, max_prompt_tokens=300, max_context_tokens=420, batch_size=2)
    router = HFRouter(tiny_causal_lm(max_positions=512), tokenizer, generation)
    item, prompt, info = played_input()
    templated = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                              tokenize=False)
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]
    expected = encode(templated)[-300:] + encode(FIRST) + encode(info["inline_observation"])
    assert router.context(item) == expected[-420:]
    # two episodes in one left-padded batch; each continuation is new text only
    texts = [output.text for output in router.act([item, PolicyInput(observation=prompt)])]
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    assert router.generate([expected[-420:]]) == [texts[0]]  # padding does not change greedy decoding


@pytest.mark.slow
def test_hf_router_stops_at_a_stop_string():
    from agentrl.models import tiny_causal_lm, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    model = tiny_causal_lm(max_positions=512)
    free = HFRouter(model, tokenizer, RouterGeneration(max_new_tokens=40, max_context_tokens=200))
    text = free.generate([tokenizer("<think>", add_special_tokens=False)["input_ids"]])[0]
    stop = next((ch for ch in text[3:] if ch.strip()), None)
    if stop is None:
        pytest.skip("the random model wrote only whitespace")
    stopped = HFRouter(model, tokenizer, RouterGeneration(max_new_tokens=40, max_context_tokens=200, stop=[stop]))
    cut = stopped.generate([tokenizer("<think>", add_special_tokens=False)["input_ids"]])[0]
    # transformers stops after the token that completes the stop string (that token may run past it;
    # the env's cut drops anything after </search> or </answer>)
    longest_token = max(len(t) for t in tokenizer.get_vocab())
    assert stop in cut and text.startswith(cut) and len(cut) - cut.index(stop) <= longest_token


def test_api_router_continues_the_same_reply_and_puts_the_stop_tag_back():
    seen = []

    def router_model(model, messages, params):
        seen.append((messages, params))
        text, matched = cut_at_stop("<think>ok</think><answer>Lima</answer> trailing", params.get("stop"))
        return ChatReply(text, stop_reason=matched)

    item, prompt, info = played_input()
    with OpenAICompatServer(router_model) as server:
        router = APIRouter("router-r1", server.base_url, RouterGeneration(stop=["</search>", "</answer>"],
                                                                            max_new_tokens=64))
        [first] = router.act([PolicyInput(observation=prompt)])
        [later] = router.act([item])
        router.close()
    assert first.text == later.text == "<think>ok</think><answer>Lima</answer>"
    (messages_a, params_a), (messages_b, params_b) = seen
    assert messages_a == [{"role": "user", "content": prompt}] and "continue_final_message" not in params_a
    assert messages_b == [{"role": "user", "content": prompt},
                          {"role": "assistant", "content": FIRST + info["inline_observation"]}]
    assert params_b["continue_final_message"] is True and params_b["add_generation_prompt"] is False
    assert (params_b["max_tokens"], params_b["temperature"], params_b["stop"]) == (64, 0.0, ["</search>", "</answer>"])


def test_generation_settings_are_checked():
    with pytest.raises(ValueError, match="max_context_tokens"):
        RouterGeneration(max_new_tokens=100, max_context_tokens=50)
    with pytest.raises(ValueError, match="temperature"):
        RouterGeneration(temperature=-1)
    assert RouterGeneration(stop=["", "</search>"]).stop == ["</search>"]
