"""``agentrl/Router-v0``: the contract, both protocols in play, the turn budget, tasks, pools and
local backends."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import agentrl
from agentrl.core.check import check_reward_bounds, check_text_env
from agentrl.core.config import ConfigError
from agentrl.core.env import STEP_INFO_KEYS
from agentrl.core.policy import ScriptedPolicy
from agentrl.envs.router.baselines import QUOTED_COLON, Cascade, RouteThenAnswer, fixed, routed_query
from agentrl.envs.router.data import DataFormatError, QATask, load_tasks, save_tasks
from agentrl.envs.router.env import RouterEnv
from agentrl.envs.router.router_r1 import router_r1_prompt
from agentrl.envs.router.simulated import (
    DOMAINS,
    SIMULATED_MODELS,
    SimulatedBackend,
    generate_task,
    simulated_pool,
    solve,
)
from agentrl.rollout import grouped_specs, run_episodes

PERU = {"question": "What is the capital of Peru?", "golden_answers": ["Lima"]}


def make_env(**kwargs) -> RouterEnv:
    kwargs.setdefault("shared_cost_window", None)
    return RouterEnv(**kwargs)


@pytest.mark.parametrize("protocol", ["router-r1", "chat"])
def test_contract(protocol):
    check_text_env(make_env(protocol=protocol))


def test_registered_and_info_keys():
    env = gym.make("agentrl/Router-v0", shared_cost_window=None)
    _, info = env.reset(seed=1)
    assert set(STEP_INFO_KEYS) <= set(info) and info["question"]
    _, _, _, _, info = env.step("<think>x</think><answer>y</answer>")
    assert set(STEP_INFO_KEYS) <= set(info)
    env.close()
    assert isinstance(agentrl.make("agentrl/Router-v0").unwrapped, RouterEnv)


def test_render_text_is_the_state_and_feedback_is_a_message():
    env = make_env()
    first, _ = env.reset(seed=0, options={"task": PERU})
    assert first == router_r1_prompt(PERU["question"]) == env.render_text()
    # an invalid turn explains itself above an unchanged state
    obs, _, _, _, info = env.step("I would rather chat.")
    assert obs.startswith("Invalid turn:") and obs.endswith(first) and env.render_text() == first
    assert info["inline_observation"] == "" and info["kept_text"] == "I would rather chat."
    # a routed search: the block is the turn's message; the state now counts the answered search
    obs, _, _, _, info = env.step(f"<think>geo</think><search> Gemma: {PERU['question']} </search>")
    block = info["inline_observation"]
    assert block.startswith("\n\n<information>") and block.endswith("</information>\n\n")
    assert obs == block + "\n" + env.render_text()
    assert env.render_text() == f"Question: {PERU['question']}\nModel calls answered so far: 1."


def test_search_then_answer_with_the_simulated_pool():
    env = make_env(alpha=0.5)
    env.reset(seed=3, options={"task": PERU})
    _obs, reward, terminated, truncated, info = env.step(
        "<think>geography</think>\n<search> Gemma-2-27B-Instruct: What is the capital of Peru? </search> "
        "trailing text is cut")
    assert (reward, terminated, truncated, info["action_valid"]) == (0.0, False, False, True)
    [call] = info["calls"]
    reply = SimulatedBackend().reply("Gemma-2-27B-Instruct", " What is the capital of Peru?")
    assert call["model"] == "Gemma-2-27B-Instruct" and call["completion_tokens"] > 0
    assert call["query"] == " What is the capital of Peru?"  # upstream routes the raw text after the colon
    assert call["cost"] == pytest.approx(call["completion_tokens"] * 0.8)
    answer = reply.split("Answer:")[-1].strip()
    _, reward, terminated, _, info = env.step(f"<think>copy</think><answer>{answer}</answer>")
    assert terminated and info["format_ok"] and info["num_calls"] == 1 and info["route_count"] == 1
    assert info["em"] == float(answer == "Lima") and info["success"] == (answer == "Lima")
    assert info["transcript"].count("<information>") == 1 and "trailing" not in info["transcript"]


def test_routed_queries_keep_upstreams_spaces_and_a_failing_backend_is_a_failed_call():
    env = make_env()
    env.reset(seed=0, options={"task": {"question": "How many seconds are in 3 minutes?", "golden_answers": ["180"]}})
    _, _, _, _, info = env.step("<think>units</think><search> LLaMA-3.1-8B: How many seconds are in 3 minutes? </search>")
    assert info["calls"][0]["ok"] and info["calls"][0]["query"] == " How many seconds are in 3 minutes?"

    class Broken:
        def call(self, model, query):
            raise RuntimeError("bug in a backend")

        def close(self):
            pass

    env.set_backend("simulated", Broken())
    obs, _, _, _, info = env.step("<think>again</think><search> Qwen: anything </search>")
    assert "<information>None</information>" in obs and "bug in a backend" in info["calls"][0]["error"]
    assert info["calls"][0]["cost"] == 0.0


def test_unknown_model_gets_none_and_fails_the_format():
    env = make_env()
    env.reset(seed=0)
    obs, _, _, _, info = env.step("<think>x</think><search> gpt-9: what? </search>")
    assert "<information>None</information>" in obs and info["calls"][0]["error"] == "unknown model"
    _, reward, terminated, _, info = env.step("<think>y</think><answer>z</answer>")
    assert terminated and reward == -1.0 and info["format_rule"] == "unknown_model"
    assert info["reward_components"] == {"format": -1.0, "outcome": 0.0, "cost": 0.0}
    assert info["num_calls"] == 0 and info["cost"] == 0.0


def test_malformed_turn_is_an_observation_not_a_crash():
    env = make_env()
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("I think the answer is 4")
    assert "Invalid turn" in obs and "LLaMA-3.1-70B-Instruct" in obs
    assert (reward, terminated, truncated, info["action_valid"]) == (0.0, False, False, False)
    obs, _, _, _, info = env.step("<think>a</think><search> Gemma capital? </search>")
    assert "colon" in obs and "<information>" not in info["inline_observation"] and not info["action_valid"]
    obs, _, _, _, info = env.step(12345)  # not text at all
    assert "must be text" in obs


def test_router_r1_budget_is_four_routed_generations_and_a_final_one():
    env = make_env()
    assert env.config.max_turns == 5
    env.reset(seed=0)
    question = env.task.question
    for turn in range(4):
        _, _, terminated, truncated, info = env.step(f"<think>t{turn}</think><search> Qwen: {question} </search>")
        assert not (terminated or truncated) and len(info["calls"]) == 1
    obs, reward, terminated, truncated, info = env.step(f"<think>last</think><search> Qwen: {question} </search>")
    assert (terminated, truncated) == (False, True) and info["calls"] == [] and "not run" in obs
    assert info["num_calls"] == 4 and reward == -1.0 and info["format_rule"] == "answer_count"
    with pytest.raises(RuntimeError, match="reset"):
        env.step("<think>c</think><answer>d</answer>")


def test_chat_protocol_routes_every_turn_and_matches_names_exactly():
    env = make_env(protocol="chat", max_turns=2)
    env.reset(seed=0, options={"task": PERU})
    assert env.render_text() == f"Question: {PERU['question']}\n" and "$0.8 per 1M" in env.instructions()
    _, _, _, _, info = env.step("<think>a</think><search> Qwen: What is the capital of Peru? </search>")
    assert info["calls"][0]["error"] == "unknown model"  # no substring matching in chat
    _, reward, _, truncated, info = env.step("<think>b</think><search> gemma-2-27b-instruct: capital of Peru? </search>")
    assert truncated and info["calls"][0]["ok"] and info["calls"][0]["query"] == "capital of Peru?"
    assert reward == -1.0 and info["format_rule"] == "answer_count"
    assert env.config.calls.system_prompt and env.config.calls.query_template == "{query}"


def test_f1_reward_metric():
    env = make_env(reward_metric="f1")
    env.reset(seed=0, options={"task": {"question": "Where is the tower?", "golden_answers": ["Eiffel Tower"]}})
    _, reward, _, _, info = env.step("<think>t</think><answer>the Eiffel Tower in Paris</answer>")
    assert info["em"] == 0.0 and info["f1"] == pytest.approx(2 / 3) and reward == pytest.approx(2 / 3)
    assert not info["success"] and info["outcome"] == pytest.approx(2 / 3)


def test_generated_tasks_are_deterministic_and_solvable():
    env = make_env()
    first = env.reset(seed=7)[0]
    assert env.reset(seed=7)[0] == first and env.task_id == "gen-%s-7" % env.task.domain
    domains = set()
    for seed in range(60):
        task = generate_task(seed)
        assert solve(task.question) == (task.domain, task.golden_answers[0])
        domains.add(task.domain)
    assert domains == set(DOMAINS)
    assert {generate_task(s, ["units"]).domain for s in range(10)} == {"units"}
    with pytest.raises(ConfigError, match="arithmetic"):
        make_env(generated_domains=["poetry"])


def test_simulated_models_are_router_r1s_pool_and_hit_their_accuracies():
    assert set(SIMULATED_MODELS) == {m.name for m in simulated_pool()}
    backend = SimulatedBackend()
    tasks = [generate_task(s, ["geography"]) for s in range(400)]
    for name in ("Gemma-2-27B-Instruct", "LLaMA-3.1-70B-Instruct"):
        right = sum(backend.reply(name, t.question).endswith("Answer: " + t.golden_answers[0]) for t in tasks)
        assert abs(right / 400 - SIMULATED_MODELS[name].accuracy["geography"]) < 0.06
    assert "cannot help" in backend.reply("Gemma-2-27B-Instruct", "Tell me a joke")


def test_qa_flashrag_and_router_r1_files(tmp_path):
    plain = tmp_path / "qa.jsonl"
    plain.write_text('{"question": "Q1?", "answers": ["A1", "a one"]}\n\n{"question": "Q2?", "answer": "A2", "domain": "d"}\n')
    flashrag = tmp_path / "flashrag.jsonl"
    flashrag.write_text(json.dumps({"id": "test_7", "question": "who wrote hamlet", "golden_answers": ["Shakespeare"],
                                    "metadata": {"x": 1}}) + "\n")
    prompt = router_r1_prompt("Who painted the Mona Lisa?")
    verl = {"data_source": "nq", "prompt": [{"role": "user", "content": prompt}], "ability": "fact-reasoning",
            "reward_model": {"style": "rule", "ground_truth": {"target": ["Leonardo da Vinci"]}},
            "extra_info": {"split": "test", "index": 4}}
    router_r1 = tmp_path / "router_r1.jsonl"
    router_r1.write_text(json.dumps(verl) + "\n")
    tasks = load_tasks(plain, flashrag, router_r1)
    assert [t.question for t in tasks] == ["Q1?", "Q2?", "who wrote hamlet", "Who painted the Mona Lisa?"]
    assert tasks[0].golden_answers == ["A1", "a one"] and tasks[1].golden_answers == ["A2"] and tasks[1].domain == "d"
    assert tasks[2].id == "test_7" and tasks[3].id == "nq-4" and tasks[3].prompt == prompt

    import pandas as pd

    parquet = tmp_path / "test_nq_qwen.parquet"
    pd.DataFrame([verl, verl | {"extra_info": {"split": "test", "index": 5}}]).to_parquet(parquet)
    from_parquet = load_tasks(parquet)
    assert [t.id for t in from_parquet] == ["nq-4", "nq-5"] and from_parquet[0].question == "Who painted the Mona Lisa?"
    # the stored prompt is the router's first message, verbatim
    env = make_env(task_files=[str(parquet)])
    assert env.reset(seed=0)[0] == prompt

    saved = tmp_path / "saved.jsonl"
    save_tasks(tasks, saved)
    assert load_tasks(saved) == tasks


@pytest.mark.parametrize("line, fragment", [
    ('{"answers": ["x"]}', "missing 'question'"),
    ('{"question": "q"}', "golden answers"),
    ('{"question": "q", "golden_answers": []}', "golden answers"),
    ('{"reward_model": {}, "prompt": []}', "Router-R1 record"),
    ("not json", "not valid JSON"),
])
def test_bad_task_records_name_file_and_line(tmp_path, line, fragment):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "ok", "answer": "fine"}\n' + line + "\n")
    with pytest.raises(DataFormatError) as raised:
        load_tasks(path)
    assert fragment in str(raised.value) and f"{path}:2" in str(raised.value)
    with pytest.raises(FileNotFoundError):
        load_tasks(tmp_path / "missing.jsonl")


def test_task_files_are_indexed_by_seed(tmp_path):
    path = tmp_path / "qa.jsonl"
    save_tasks([QATask(f"t{i}", f"question {i}?", [str(i)]) for i in range(3)], path)
    env = make_env(task_files=[str(path)])
    assert [env.reset(seed=s)[1]["task_id"] for s in (0, 1, 2, 3)] == ["t0", "t1", "t2", "t0"]
    assert env.reset(seed=0, options={"task_index": 2})[1]["task_id"] == "t2"


def test_pool_file_and_config_errors(tmp_path):
    pool = tmp_path / "pool.yaml"
    pool.write_text("models:\n  - {name: geo-3b, price_per_1m: 0.1, description: geography}\n"
                    "  - {name: general-70b, price_per_1m: 1.0, aliases: [big]}\n")
    env = make_env(pool_file=str(pool), protocol="chat")
    assert env.pool.names == ["geo-3b", "general-70b"] and env.pool.resolve("BIG").name == "general-70b"
    assert "geography" in env.instructions() and "Qwen" not in env.instructions()
    with pytest.raises(ConfigError, match="can never be selected"):
        make_env(pool_file=str(pool))  # router-r1 names resolve by Router-R1's families only
    local = make_env(pool=[{"name": "qwen-local", "price_per_1m": 0.1}, {"name": "m", "aliases": ["google/gemma-2-27b-it"]}])
    assert local.resolve_model("Qwen2.5-7B-Instruct").name == "qwen-local" and local.resolve_model("Gemma").name == "m"
    with pytest.raises(ConfigError, match="selects both"):
        make_env(pool=[{"name": "qwen-a"}, {"name": "qwen-b"}])
    with pytest.raises(ConfigError, match="simulated, replay, openai, transformers"):
        make_env(backend="carrier-pigeon")
    with pytest.raises(ConfigError, match="base_url"):
        make_env(pool=[{"name": "qwen", "backend": "openai"}])
    with pytest.raises(ConfigError, match="selects both"):
        make_env(pool=[{"name": "a", "aliases": ["b"]}, {"name": "b"}], protocol="chat")
    with pytest.raises(ConfigError, match="alpha"):
        make_env(alpha=2.0)
    with pytest.raises(ConfigError, match="protocol must be one of router-r1, chat"):
        make_env(protocol="router-r2")
    with pytest.raises(ConfigError, match="Valid keys"):
        make_env(cost_coefficient=0.5)
    with pytest.raises(ConfigError, match="price_pre_1m"):
        make_env(pool=[{"name": "m", "price_pre_1m": 1.0}])
    with pytest.raises(ConfigError, match="without ':'"):
        make_env(pool=[{"name": "org:model"}])
    with pytest.raises(ConfigError, match="query_template"):
        make_env(calls={"query_template": "no placeholder"})


def test_replay_backend_misses_are_none(tmp_path):
    replay = tmp_path / "r.jsonl"
    replay.write_text('{"model": "m", "query": "known?", "response": "yes it is", "latency_s": 0.7}\n')
    env = make_env(pool=[{"name": "m", "price_per_1m": 3.0}], backend="replay", replay_files=[str(replay)],
                   protocol="chat")
    env.reset(seed=0)
    obs, _, _, _, info = env.step("<think>a</think><search> M: known? </search>")
    assert "<information>yes it is</information>" in obs
    assert info["calls"][0]["completion_tokens"] == 3 and info["calls"][0]["latency_s"] == 0.7
    obs, _, _, _, info = env.step("<think>a</think><search> m: unknown? </search>")
    assert "<information>None</information>" in obs and "no recorded response" in info["calls"][0]["error"]
    assert info["calls"][0]["cost"] == 0.0 and info["action_valid"]
    with pytest.raises(ConfigError, match="replay_files"):
        make_env(backend="replay")


@pytest.mark.slow  # importing transformers and building the model dominates (~10 s on a busy 2-core box)
def test_transformers_backend_with_the_tiny_model():
    env = make_env(pool=[{"name": "qwen-tiny", "price_per_1m": 5.0, "backend": "transformers", "hf_model": "tiny"}],
                   calls={"max_tokens": 4})
    env.reset(seed=0)
    obs, _, _, _, info = env.step("<think>a</think><search> qwen: hello there </search>")
    [call] = info["calls"]
    assert call["ok"] and 0 <= call["completion_tokens"] <= 4 and call["cost"] == 5.0 * call["completion_tokens"]
    assert obs.count("<information>") == 1
    env.close()


@pytest.mark.parametrize("protocol", ["router-r1", "chat"])
def test_baselines_play_batched_episodes(protocol):
    """Single-round and multi-round baselines through the rollout engine, with the env's rewards."""
    envs = [make_env(protocol=protocol) for _ in range(3)]
    single = run_episodes(envs, RouteThenAnswer(fixed("LLaMA-3.1-70B-Instruct")), grouped_specs(range(12), 1))
    assert all(len(t.turns) == 2 and t.turns[-1].terminated and t.turns[-1].info["format_ok"] for t in single)
    assert all(t.outcome == t.turns[-1].info["em"] for t in single)
    assert 0.4 < single.summary()["success_rate"] <= 1.0
    names = [m.name for m in sorted(simulated_pool(), key=lambda m: m.price_per_1m)]
    cascade = run_episodes(envs, Cascade(names, max_calls=3), grouped_specs(range(12), 1))
    assert all(t.turns[-1].terminated and t.turns[-1].info["format_ok"] for t in cascade)
    calls = [t.turns[-1].info["num_calls"] for t in cascade]
    assert max(calls) <= 3 and any(c >= 2 for c in calls)  # it asks again when replies disagree


def test_cascade_stops_when_two_replies_agree():
    cascade = Cascade(["a", "b", "c", "d"], max_calls=4)
    assert cascade.next_model("q", []) == "a"
    assert cascade.next_model("q", ["Answer: Lima"]) == "b"
    assert cascade.next_model("q", ["Answer: Lima", "Answer: Quito"]) == "c"
    assert cascade.next_model("q", ["Answer: Lima", "Answer: Quito", "Answer: lima."]) is None
    assert cascade.answer(["Answer: Lima", "Answer: Quito", "Answer: lima."]) == "lima."
    assert cascade.answer(["Answer: A", "Answer: B"]) == "B"  # a tie goes to the later (dearer) model
    assert cascade.next_model("q", ["x", "y", "z", "w"]) is None
    # declining replies never agree and are never the answer
    refusals = ["I am unable to assist; consult other LLMs.", "I am unable to assist; consult other LLMs."]
    assert cascade.next_model("q", refusals) == "c" and cascade.answer(refusals + ["Answer: Lima"]) == "Lima"


def test_routed_query_quotes_colons():
    assert routed_query("Star Wars: Episode IV -\n who directed it?") == f"Star Wars{QUOTED_COLON} Episode IV - who directed it?"
    assert ":" not in routed_query("a:b:c")


def test_trainable_with_a_plain_text_policy():
    """A text policy that follows the protocol plays batched episodes through the rollout engine."""
    def policy(item):
        if not item.history:
            return f"<think>route</think><search> LLaMA-3.1-70B-Instruct: {item.info['question']} </search>"
        reply = item.info["inline_observation"].split("<information>")[1].split("</information>")[0]
        return f"<think>copy</think><answer>{reply.split('Answer:')[-1].strip()}</answer>"

    envs = [make_env() for _ in range(3)]
    batch = run_episodes(envs, ScriptedPolicy(policy), grouped_specs(range(12), 1))
    assert all(len(t.turns) == 2 and t.turns[-1].info["format_ok"] for t in batch)
    assert batch[0].instructions == ""  # router-r1: the prompt is the first user message


def test_expert_is_within_the_documented_bounds():
    env = make_env(alpha=0.3)
    check_reward_bounds(env, episodes=4)
