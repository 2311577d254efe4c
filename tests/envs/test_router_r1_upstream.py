"""``router-r1`` protocol against Router-R1's own code (github.com/ulab-uiuc/Router-R1, commit 801a240).

Three kinds of evidence:

1. ``UPSTREAM_CASES``: a table of cases written from upstream's code -- format, turn cutting, name
   resolution, turn budget, fabricated ``<information>``, cost -- each naming the upstream function
   it mirrors, with hand-worked expectations. Every case runs through the env *and* through the
   reference port below, and both must give the expected result.
2. A random diff: thousands of random generation sequences played through the env and through the
   reference port of upstream's loop and reward must give the same response, format verdict, EM,
   F1, cost, route count and reward.
3. The prompts: SHA-256 of upstream's evaluated strings.

The reference port (``ref_*``) follows upstream's code closely on purpose: it is the test oracle and
is used nowhere else. Source files: ``router_r1/llm_agent/generation.py``,
``router_r1/llm_agent/route_service.py``, ``verl/trainer/main_ppo.py``,
``verl/utils/reward_score/qa_em.py`` (Apache-2.0, Copyright 2024 Bytedance Ltd. and the Router-R1
authors).
"""

from __future__ import annotations

import hashlib
import random
import re
import string
from collections import Counter, deque

import numpy as np
import pytest

from agentrl.envs.router.backends import CallResult, chat_for
from agentrl.envs.router.env import RouterEnv
from agentrl.envs.router.pool import ModelSpec
from agentrl.envs.router.router_r1 import (
    CANDIDATE_PROMPT,
    PROMPT_TEMPLATES,
    ROUTER_R1_PRICES,
    candidate_prompt,
    prepare_question,
    resolve_model_name,
    router_r1_pool,
    router_r1_prompt,
    sample_indices,
)

# ============================================================================ reference port
# Follows Router-R1's code closely (Apache-2.0); a test oracle only.


def ref_check_llm_name(target_llm):  # route_service.check_llm_name
    TAU = 0
    LLM_NAME = ""
    if "qwen" in target_llm:
        LLM_NAME = "qwen/qwen2.5-7b-instruct"
    elif "palmyra" in target_llm or "creative" in target_llm:
        LLM_NAME = "writer/palmyra-creative-122b"
    elif "llama" in target_llm:
        if "70b" in target_llm:
            LLM_NAME = "meta/llama-3.1-70b-instruct"
        elif "51b" in target_llm:
            LLM_NAME = "nvidia/llama-3.1-nemotron-51b-instruct"
        elif "49b" in target_llm:
            LLM_NAME = "nvidia/llama-3.3-nemotron-super-49b-v1"
        elif "8b" in target_llm:
            if "chatqa" in target_llm:
                LLM_NAME = "nvidia/llama3-chatqa-1.5-8b"
            else:
                LLM_NAME = "meta/llama-3.1-8b-instruct"
        else:
            LLM_NAME = ""
    elif "mistral" in target_llm:
        LLM_NAME = "mistralai/mistral-7b-instruct-v0.3"
    elif "mixtral" in target_llm:
        LLM_NAME = "mistralai/mixtral-8x22b-instruct-v0.1"
    elif "granite" in target_llm:
        LLM_NAME = "ibm/granite-3.0-8b-instruct"
    elif "gemma" in target_llm:
        LLM_NAME = "google/gemma-2-27b-it"
        TAU = 0.1
    else:
        LLM_NAME = ""
    return LLM_NAME, TAU


def ref_is_valid_llm_name(target_llm):  # main_ppo.is_valid_llm_name
    target_llm = target_llm.strip().lower()
    name, _ = ref_check_llm_name(target_llm=target_llm)
    return name != ""


def ref_format_reward(completion):  # main_ppo.format_reward
    matches = re.findall(r'<(search|answer|think|information)>(.*?)</\1>', completion, re.DOTALL)
    if len(matches) == 0:
        return -1.0
    for tag in ("search", "think", "answer", "information"):
        if completion.count(f"<{tag}>") != completion.count(f"</{tag}>"):
            return -1.0
    route = answer = think = info = 0
    is_nesting = query_punish = name_punish = think_punish = False
    for action, content in matches:
        action, content = action.strip(), content.strip()
        if action == "search":
            route += 1
            if content.count(":") == 1:
                if content.split(":")[-1].strip() == '' or "llm-name" in content.strip().lower() \
                        or "your-query" in content.strip().lower() \
                        or content.split(":")[0].strip().lower() in content.split(":")[-1].strip().lower():
                    query_punish = True
                if not ref_is_valid_llm_name(content.split(":")[0]):
                    name_punish = True
            else:
                query_punish = True
        elif action == "answer":
            answer += 1
        elif action == "think":
            think += 1
            if content == "..." or content == "":
                think_punish = True
        else:
            info += 1
        if sum(content.count(t) for t in ("<search>", "</search>", "<think>", "</think>", "<answer>", "</answer>",
                                           "<information>", "</information>")) != 0:
            is_nesting = True
    if think_punish or is_nesting:
        return -1.0
    if answer != 1 or think == 0 or route != info:
        return -1.0
    completion = completion.strip()
    if not completion[:len("<think>")] == "<think>":
        return -1.0
    if not completion.rfind("</answer>") + 9 == len(completion):
        return -1.0
    if query_punish or name_punish:
        return -1.0
    return 0.0


def ref_route_count(completion):  # main_ppo.route_count
    matches = re.findall(r'<(search|answer)>(.*?)</\1>', completion, re.DOTALL)
    count, query_punish, name_punish = 0, False, False
    for action, content in matches:
        action, content = action.strip(), content.strip()
        if action == "search":
            if content.count(":") == 1:
                if content.split(":")[-1].strip() == '' or "llm-name" in content.strip().lower() \
                        or "your-query" in content.strip().lower():
                    query_punish = True
                if not ref_is_valid_llm_name(content.split(":")[0]):
                    name_punish = True
            else:
                query_punish = True
            if not query_punish and not name_punish:
                count += 1
    return count


def ref_postprocess_responses(resp):  # generation._postprocess_responses (one row)
    return resp.split('</search>')[0] + '</search>' if '</search>' in resp \
        else resp.split('</answer>')[0] + '</answer>' if '</answer>' in resp else resp


def ref_postprocess_predictions(prediction):  # generation.postprocess_predictions (one row)
    match = re.search(r'<(search|answer)>(.*?)</\1>', prediction, re.DOTALL)
    if not match:
        return None, ''
    content, action = match.group(2).strip(), match.group(1)
    if action == "search" and ("llm-name" in content.strip().lower() or "your-query" in content.strip().lower()):
        action = "route invalid-1"
    elif action == "search" and ":" not in content:
        action = "route invalid-2"
    elif action == "search" and content.strip().lower().split(":")[-1].strip() == "":
        action = "route invalid-3"
    return action, content


def ref_route(single_query, call):  # route_service.access_routing_pool + request_task (one query)
    target_llm = single_query.split(":")[0].strip().lower()
    query_text = single_query.split(":")[1]
    name, tau = ref_check_llm_name(target_llm=target_llm)
    if name == "":
        return "LLM Name Error", 0.0
    try:
        reply, tokens = call(name, query_text, tau)
    except ConnectionError:
        return "API Request Error", 0.0
    return reply, int(tokens) * ROUTER_R1_PRICES[name]


def ref_run_llm_loop(generations, call, max_turns=4):
    """generation.run_llm_loop + execute_predictions at the text level: (response, total cost, generations used)."""
    response, cost, used = "", 0.0, 0
    for step in range(max_turns):
        resp = ref_postprocess_responses(generations[step])
        used += 1
        action, content = ref_postprocess_predictions(resp)
        obs = ""
        if action == "answer":
            return response + resp, cost, used
        if action == "search":
            result, spent = ref_route(content, call)
            if result.strip().lower() in ("llm name error", "api request error"):
                obs = '\n\n<information>None</information>\n\n'
            else:
                obs = f'\n\n<information>{result.strip()}</information>\n\n'
            cost += spent
        response += resp + obs
    response += ref_postprocess_responses(generations[max_turns])  # final rollout, do_route=False
    return response, cost, used + 1


def ref_normalize_answer(s):  # qa_em.normalize_answer
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def ref_f1(prediction, ground_truth):  # qa_em.f1_score
    p, g = ref_normalize_answer(prediction), ref_normalize_answer(ground_truth)
    if p in ['yes', 'no', 'noanswer'] and p != g:
        return 0
    if g in ['yes', 'no', 'noanswer'] and p != g:
        return 0
    common = Counter(p.split()) & Counter(g.split())
    same = sum(common.values())
    if same == 0:
        return 0
    precision, recall = same / len(p.split()), same / len(g.split())
    return 2 * precision * recall / (precision + recall)


def ref_compute_score_em_val(solution_str, targets, format_score, api_cost, cost_coe):  # qa_em.compute_score_em, state="val", reward_metric="em"
    matches = list(re.finditer(r'<answer>(.*?)</answer>', solution_str, re.DOTALL))
    if not matches:
        return 0, 0, format_score
    answer = matches[-1].group(1).strip()
    f1 = max(ref_f1(answer, g) for g in targets)
    em = 1.0 if any(ref_normalize_answer(g) == ref_normalize_answer(answer) for g in targets) else 0.0
    if format_score == -1.0:
        return em, f1, format_score
    if em == 0:
        return em, f1, em + format_score
    return em, f1, (em + format_score) * (1.0 - cost_coe) + api_cost * cost_coe


class RefCostNormalizer:  # main_ppo.normalize_reward (window 1000, P5/P95, sqrt)
    def __init__(self):
        self.buffer = deque(maxlen=1000)

    def __call__(self, r):
        r = np.sqrt(r)
        self.buffer.append(r)
        arr = np.array(self.buffer)
        low, high = (np.percentile(arr, 5), np.percentile(arr, 95)) if len(arr) >= 2 else (arr.min(), arr.max())
        if high - low < 1e-8:
            return 0.5
        return 1.0 - float(np.clip((r - low) / (high - low), 0.0, 1.0))


# ============================================================================ shared fixtures
GOLDEN = ["Paris", "paris france"]
EXTRA_PRICED = [ModelSpec("Palmyra-Creative-122B", 1.8, aliases=["writer/palmyra-creative-122b"]),
                ModelSpec("Llama3-ChatQA-1.5-8B", 0.18, aliases=["nvidia/llama3-chatqa-1.5-8b"])]


class FakeCandidates:
    """A deterministic pool answering from (model id, query): the same function serves the env and the port."""

    def __init__(self, replies=None):
        self.replies = replies
        self.seen: list[tuple[str, str, float]] = []

    def answer(self, model_id: str, query: str, temperature: float):
        self.seen.append((model_id, query, temperature))
        if self.replies is not None:
            return self.replies
        digest = hashlib.sha256(f"{model_id}|{query}".encode()).digest()
        kind = digest[0] % 6
        if kind == 0:
            raise ConnectionError("down")
        text = ["Answer: Paris", "It is London.", "API Request Error", "  The capital is Paris.  ", "paris"][kind - 1]
        return text, 3 + digest[1] % 9

    # the env-side backend protocol
    def call(self, model, query):
        try:
            text, tokens = self.answer(model.api_model or model.aliases[0], query, model.temperature or 0.0)
        except ConnectionError as exc:
            return CallResult.failed(str(exc))
        return CallResult(text=text, completion_tokens=tokens)

    def close(self):
        pass


def router_env(candidates: FakeCandidates, **kwargs) -> RouterEnv:
    kwargs.setdefault("shared_cost_window", None)
    kwargs.setdefault("pool", router_r1_pool() + EXTRA_PRICED)
    env = RouterEnv(**kwargs)
    env.set_backend("simulated", candidates)
    return env


def play_env(env: RouterEnv, generations: list[str]) -> dict:
    env.reset(seed=0, options={"task": {"question": "What is the capital of France?", "golden_answers": GOLDEN}})
    used, done, info, total = 0, False, {}, 0.0
    while not done:
        _, reward, terminated, truncated, info = env.step(generations[used])
        total += reward
        used += 1
        done = terminated or truncated
    return dict(response=info["transcript"], format=0.0 if info["format_ok"] else -1.0, rule=info["format_rule"],
                em=info["em"], f1=info["f1"], cost=info["cost"], routes=info["route_count"], used=used,
                reward=total, calls=info["num_calls"])


def play_reference(generations: list[str], candidates: FakeCandidates, normalize=None, alpha=0.0) -> dict:
    response, cost, used = ref_run_llm_loop(generations, candidates.answer)
    fmt = ref_format_reward(response)
    api_cost = normalize(cost) if normalize else 0.5
    em, f1, reward = ref_compute_score_em_val(response, GOLDEN, fmt, api_cost, alpha)
    return dict(response=response, format=fmt, em=em, f1=f1, cost=cost, routes=ref_route_count(response), used=used,
                reward=reward)


# ============================================================================ 1. the case table
THINK = "<think>I need the capital.</think>"
ANSWER = "<think>The reply says Paris.</think><answer>Paris</answer>"


def search(name: str, query: str = "What is the capital of France?") -> str:
    return f"{THINK}\n<search> {name}: {query} </search>"


# (id, upstream function mirrored, generations, expected); costs: 10 tokens per reply (fixed candidates)
UPSTREAM_CASES = [
    ("one-call-then-answer", "format_reward + execute_predictions",
     [search("Qwen2.5-7B-Instruct"), ANSWER],
     dict(format=0.0, em=1.0, cost=10 * 0.3, calls=1, used=2, routes=1)),
    # ---- turn cutting
    ("cut-at-first-search", "generation._postprocess_responses",
     [search("Qwen2.5-7B-Instruct") + " then I wait <information>made up</information>", ANSWER],
     dict(format=0.0, em=1.0, calls=1, used=2, not_in_response="made up")),
    ("answer-then-search-is-cut-at-search", "generation._postprocess_responses",
     [f"{THINK}<answer>Paris</answer><search> Qwen: q? </search>"],
     dict(format=-1.0, rule="search_info_mismatch", em=1.0, calls=0, used=1)),
    ("two-searches-one-turn-run-one", "generation.postprocess_predictions (re.search: first block)",
     [f"{THINK}<search> Qwen: a? </search><search> Gemma: b? </search>", ANSWER],
     dict(format=0.0, calls=1, used=2, models=["Qwen2.5-7B-Instruct"])),
    ("answer-cut-at-first-answer", "generation._postprocess_responses",
     [f"{THINK}<answer>London</answer> no, <answer>Paris</answer>"],
     dict(format=0.0, em=0.0, used=1)),
    ("no-action-turn-appends-nothing", "generation.execute_predictions (action None)",
     ["Let me think about it.", ANSWER],
     dict(format=-1.0, rule="not_starting_with_think", em=1.0, used=2, calls=0)),
    # ---- format
    ("empty-think", "main_ppo.format_reward (think_punish)",
     ["<think></think><answer>Paris</answer>"], dict(format=-1.0, rule="empty_think", em=1.0)),
    ("ellipsis-think", "main_ppo.format_reward (think_punish)",
     ["<think> ... </think><answer>Paris</answer>"], dict(format=-1.0, rule="empty_think")),
    ("nested-tags", "main_ppo.format_reward (is_nesting)",
     ["<think>maybe <answer>Paris</answer></think><answer>Paris</answer>"], dict(format=-1.0)),
    ("missing-think", "main_ppo.format_reward (think == 0)",
     ["<answer>Paris</answer>"], dict(format=-1.0, rule="missing_think", em=1.0)),
    ("text-after-answer", "main_ppo.format_reward (rfind('</answer>') + 9)",
     [f"{THINK}<answer>Paris</answer> Hope this helps!"], dict(format=0.0, em=1.0)),  # cut drops the tail
    ("no-colon-not-routed", "postprocess_predictions 'route invalid-2' + format_reward query_format_punish",
     [search("Qwen2.5-7B-Instruct").replace(": What", " What"), ANSWER],
     dict(format=-1.0, rule="search_info_mismatch", calls=0, used=2, routes=0)),
    ("placeholder-not-routed", "postprocess_predictions 'route invalid-1'",
     [f"{THINK}<search> LLM-Name:Your-Query </search>", ANSWER],
     dict(format=-1.0, rule="search_info_mismatch", calls=0)),
    ("empty-query-not-routed", "postprocess_predictions 'route invalid-3'",
     [f"{THINK}<search> Qwen: </search>", ANSWER], dict(format=-1.0, rule="search_info_mismatch", calls=0)),
    ("two-colons-routed-first-segment", "access_routing_pool (split(':')[1]) + format_reward (count(':') != 1)",
     [search("Qwen", "time: 10:30?"), ANSWER],
     dict(format=-1.0, rule="bad_query", calls=1, queries=[" time"])),
    ("model-name-in-query-routed", "format_reward (name in query) while postprocess_predictions routes it",
     [search("Gemma", "is gemma right?"), ANSWER], dict(format=-1.0, rule="bad_query", calls=1)),
    # ---- name resolution (check_llm_name, by substring)
    ("name-qwen", "route_service.check_llm_name", [search("Qwen"), ANSWER],
     dict(format=0.0, models=["Qwen2.5-7B-Instruct"])),
    ("name-llama-8b", "route_service.check_llm_name", [search("LLaMA-3.1-8B"), ANSWER],
     dict(format=0.0, models=["LLaMA-3.1-8B-Instruct"], cost=10 * 0.18)),
    ("name-with-spaces", "route_service.check_llm_name", [search("LLaMA 3.1 70B Instruct"), ANSWER],
     dict(format=0.0, models=["LLaMA-3.1-70B-Instruct"], cost=10 * 0.88)),
    ("name-provider-id", "route_service.check_llm_name (TAU 0.1)", [search("google/gemma-2-27b-it"), ANSWER],
     dict(format=0.0, models=["Gemma-2-27B-Instruct"], temperatures=[0.1])),
    ("name-mistralai-mixtral-is-mistral", "route_service.check_llm_name ('mistral' tested before 'mixtral')",
     [search("mistralai/mixtral-8x22b"), ANSWER], dict(format=0.0, models=["Mistral-7B-Instruct"])),
    ("name-llama-without-size", "route_service.check_llm_name (llama branch, no size)",
     [search("LLaMA"), ANSWER], dict(format=-1.0, rule="unknown_model", calls=0, cost=0.0, routes=0)),
    ("name-unknown", "route_service.check_llm_name", [search("gpt-4o"), ANSWER],
     dict(format=-1.0, rule="unknown_model", calls=0)),
    ("name-palmyra-priced", "route_service.API_PRICE_1M_TOKENS", [search("palmyra"), ANSWER],
     dict(format=0.0, models=["Palmyra-Creative-122B"], cost=10 * 1.8)),
    # ---- turn budget (run_llm_loop: max_turns=4 routed generations + one with do_route=False)
    ("budget-four-routed-then-answer", "generation.run_llm_loop",
     [search("Qwen")] * 4 + [ANSWER], dict(format=0.0, calls=4, used=5, routes=4)),
    ("budget-fifth-search-not-run", "generation.run_llm_loop (final rollout, do_route=False)",
     [search("Qwen")] * 5, dict(format=-1.0, calls=4, used=5, cost=4 * 10 * 0.3)),
    # ---- fabricated <information>
    ("fabricated-information-alone", "main_ppo.format_reward (route_enclose_count != info_enclose_count)",
     [f"{THINK}<information>Paris is the capital.</information><answer>Paris</answer>"],
     dict(format=-1.0, rule="search_info_mismatch", calls=0, em=1.0)),
    ("fabricated-information-after-real-call", "format_reward over the whole response",
     [search("Qwen"), "<think>more</think><information>Paris</information>" + ANSWER],
     dict(format=-1.0, rule="search_info_mismatch", calls=1)),
    ("fabricated-information-with-search-same-turn", "_postprocess_responses + format_reward",
     [f"{THINK}<search> Qwen: q? </search><information>Paris</information><answer>Paris</answer>", ANSWER],
     dict(format=0.0, calls=1, used=2, not_in_response="<information>Paris</information>")),
    # ---- cost (request_task: int(completion_tokens) * API_PRICE_1M_TOKENS)
    ("cost-sums-calls", "generation.run_llm_loop (batch_completion_tokens)",
     [search("Qwen"), search("Mixtral"), ANSWER], dict(format=0.0, calls=2, cost=10 * 0.3 + 10 * 1.2)),
]


def fixed_candidates() -> FakeCandidates:
    return FakeCandidates(replies=("Answer: Paris", 10))


@pytest.mark.parametrize("case, mirrors, generations, expected", UPSTREAM_CASES, ids=[c[0] for c in UPSTREAM_CASES])
def test_upstream_case_table(case, mirrors, generations, expected):
    assert mirrors  # every case names the upstream function it follows
    env_candidates, ref_candidates = fixed_candidates(), fixed_candidates()
    env = router_env(env_candidates)
    got = play_env(env, generations)
    reference = play_reference(generations, ref_candidates)
    for key in ("response", "format", "em", "f1", "cost", "routes", "used"):
        assert got[key] == pytest.approx(reference[key]), (key, got[key], reference[key])
    for key in ("format", "em", "cost", "used", "routes", "rule", "calls"):
        if key in expected:
            assert got[key] == pytest.approx(expected[key]) if key != "rule" else got[key] == expected[key], key
    if "models" in expected:
        names = {m.aliases[0]: m.name for m in env.pool}
        assert [names[model_id] for model_id, _, _ in env_candidates.seen] == expected["models"]
    if "queries" in expected:
        assert [q for _, q, _ in env_candidates.seen] == expected["queries"]
        assert [q for _, q, _ in ref_candidates.seen] == expected["queries"]
    if "temperatures" in expected:
        assert [t for _, _, t in env_candidates.seen] == expected["temperatures"]
    if "not_in_response" in expected:
        assert expected["not_in_response"] not in got["response"]
    env.close()


# ============================================================================ 2. the random diff
NAMES = ["Qwen2.5-7B-Instruct", "qwen", "LLaMA-3.1-8B-Instruct", "llama-3.1-70b", "LLaMA 3.1 70B Instruct",
         "google/gemma-2-27b-it", "Mixtral-8x22B-Instruct", "mistralai/mixtral-8x22b", "Mistral-7B", "palmyra",
         "llama-chatqa-8b", "gpt-4o", "llama", "LLM-Name", ""]
QUERIES = ["What is the capital of France?", " who founded Paris", "", "time: 10:30?", "Your-Query",
           "ask qwen about France", "a\nmulti-line query"]
FRAGMENTS = ["<think>reason</think>", "<think>reason</think>", "<think></think>", "<think> ... </think>",
             "<think>a <answer>x</answer></think>", "<answer>Paris</answer>", "<answer> paris </answer>",
             "<answer>London</answer>", "<answer></answer>", "<information>fake</information>", "Sure.", "\n",
             "</search>", "<search>", "</answer>", " blah ", "<information>"]


def random_generation(rng: random.Random) -> str:
    pieces = []
    for _ in range(rng.randint(0, 4)):
        roll = rng.random()
        if roll < 0.35:
            name, query = rng.choice(NAMES), rng.choice(QUERIES)
            pieces.append(rng.choice([f"<search> {name}: {query} </search>", f"<search>{name} {query}</search>",
                                      f"<search>{name}:</search>"]))
        else:
            pieces.append(rng.choice(FRAGMENTS))
    if rng.random() < 0.5:  # a plausible router turn more often than not
        pieces.insert(0, "<think>step</think>")
    return "".join(pieces)


def test_random_sequences_match_the_reference_port():
    rng = random.Random(7)
    env_candidates, ref_candidates = FakeCandidates(), FakeCandidates()
    env = router_env(env_candidates, alpha=0.4)
    normalize = RefCostNormalizer()
    seen_rules, mismatches = Counter(), []
    for episode in range(2500):
        generations = [random_generation(rng) for _ in range(5)]
        if rng.random() < 0.3:  # well-formed episodes too, so that passing formats are compared
            generations = [f"<think>step</think><search> {rng.choice(NAMES[:8])}: {rng.choice(QUERIES[:2])} </search>"
                           for _ in range(rng.randint(0, 4))] + ["<think>done</think><answer>Paris</answer>"] * 5
        got = play_env(env, generations)
        reference = play_reference(generations, ref_candidates, normalize, alpha=0.4)
        seen_rules[got["rule"]] += 1
        for key in ("response", "format", "em", "f1", "cost", "routes", "used", "reward"):
            if got[key] != pytest.approx(reference[key]):
                mismatches.append((episode, key, got[key], reference[key], generations))
    env.close()
    assert not mismatches, mismatches[:3]
    assert env_candidates.seen == ref_candidates.seen  # the same calls, queries and temperatures, in order
    assert seen_rules[None] > 300 and len(seen_rules) >= 8, seen_rules  # the fuzz reaches most rules


def test_random_names_resolve_as_check_llm_name():
    rng = random.Random(3)
    alphabet = "qwenllamagemistrxpcrtivhb0123456789-. /"
    names = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20))) for _ in range(4000)]
    names += [n.upper() for n in names[:500]] + NAMES
    for name in names:
        assert resolve_model_name(name) == ref_check_llm_name(name.strip().lower())[0], name


# ============================================================================ 3. prompts and sampling
def test_prompts_are_upstreams_character_for_character():
    # SHA-256 of the strings upstream's Python evaluates data_process/prompt_pool.py and AGENT_PROMPT to
    expected = {"qwen": "ba0c780bd10718904371c27cfdd2cfc3300e4d164612054989cfb2032ddb0f29",
                "llama": "9a5162b42686690de9647e233c2e4a923169025eff0d11a24f9386e9c4fa8a4f"}
    for name, digest in expected.items():
        assert hashlib.sha256(PROMPT_TEMPLATES[name].encode()).hexdigest() == digest
    assert hashlib.sha256(CANDIDATE_PROMPT.encode()).hexdigest() == \
        "501cb31d456f66a232918743e899ba3909d9bd88e244c22703d3ba56b363d1eb"
    prompt = router_r1_prompt("Who wrote Hamlet?")
    assert prompt.endswith("Question: Who wrote Hamlet?\n\n") and "LLaMA-3.1-70B-Instruct" in prompt
    assert candidate_prompt(" Who?").endswith("assist with:  Who?\n\n")


def test_the_env_speaks_the_upstream_prompt_and_candidate_prompt():
    candidates = fixed_candidates()
    env = router_env(candidates)
    observation, _ = env.reset(seed=0, options={"task": {"question": "Who wrote Hamlet?", "golden_answers": ["x"]}})
    assert observation == PROMPT_TEMPLATES["qwen"].format_map({"question": "Who wrote Hamlet?"})
    assert env.instructions() == ""  # upstream's prompt is one user message
    llama = router_env(candidates, prompt_template="llama")
    assert llama.reset(seed=0, options={"task": {"question": "Q?", "golden_answers": ["x"]}})[0] == \
        router_r1_prompt("Q?", "llama")
    # one user message, AGENT_PROMPT around the raw query, no system message
    assert chat_for(" Who?", env.config.calls) == [{"role": "user", "content": candidate_prompt(" Who?")}]
    assert (env.config.calls.max_tokens, env.config.calls.seed, env.config.calls.top_p) == (512, 42, 1.0)
    env.close()
    llama.close()


def test_pool_prices_and_ids_are_upstreams():
    pool = router_r1_pool()
    assert [m.name for m in pool] == ["Qwen2.5-7B-Instruct", "LLaMA-3.1-8B-Instruct", "LLaMA-3.1-70B-Instruct",
                                      "Mistral-7B-Instruct", "Mixtral-8x22B-Instruct", "Gemma-2-27B-Instruct"]
    for model in pool:
        assert model.price_per_1m == ROUTER_R1_PRICES[model.api_model]
        assert model.name in PROMPT_TEMPLATES["qwen"]  # the names the prompt lists
        assert (model.temperature or 0) == ref_check_llm_name(model.name.lower())[1]


def test_question_preparation_and_sampling_follow_qa_test_gen():
    assert prepare_question("  who wrote hamlet ") == "who wrote hamlet?" and prepare_question("Why?") == "Why?"
    random.seed(42)  # qa_test_gen.py: random.seed(42) at import, then random.sample per dataset
    assert sample_indices(3610) == random.sample(list(range(3610)), 500)
    random.seed(42)
    assert sample_indices(125) == random.sample(list(range(125)), 125)
