"""``agentrl/Router-v0``: the protocol in play, turn limits, tasks, pools and local backends."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import agentrl
from agentrl.core.config import ConfigError
from agentrl.core.env import STEP_INFO_KEYS
from agentrl.core.policy import ScriptedPolicy
from agentrl.core.rollout import grouped_specs, run_episodes
from agentrl.envs.router.data import DataFormatError, QATask, load_tasks, save_tasks
from agentrl.envs.router.env import RouterEnv
from agentrl.envs.router.simulated import (
    DOMAINS,
    SIMULATED_MODELS,
    SimulatedBackend,
    generate_task,
    simulated_pool,
    solve,
)


def make_env(**kwargs) -> RouterEnv:
    kwargs.setdefault("shared_cost_window", None)
    return RouterEnv(**kwargs)


def test_registered_and_info_keys():
    env = gym.make("agentrl/Router-v0", shared_cost_window=None)
    _, info = env.reset(seed=1)
    assert set(STEP_INFO_KEYS) <= set(info) and info["question"]
    _, _, _, _, info = env.step("<think>x</think><answer>y</answer>")
    assert set(STEP_INFO_KEYS) <= set(info)
    env.close()
    assert isinstance(agentrl.make("agentrl/Router-v0").unwrapped, RouterEnv)


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


def test_search_then_answer_with_the_simulated_pool():
    env = make_env(alpha=0.5)
    _, info = env.reset(seed=3, options={"task": {"question": "What is the capital of Peru?", "golden_answers": ["Lima"]}})
    obs, reward, terminated, truncated, info = env.step(
        "<think>geography</think>\n<search> GEO-3B: What is the capital of Peru? </search> trailing text is cut")
    assert obs.startswith("\n\n<information>") and obs.rstrip().endswith("</information>")
    assert (reward, terminated, truncated, info["action_valid"]) == (0.0, False, False, True)
    [call] = info["calls"]
    reply = SimulatedBackend().reply("geo-3b", "What is the capital of Peru?")
    assert call["model"] == "geo-3b" and call["completion_tokens"] > 0
    assert call["cost"] == pytest.approx(call["completion_tokens"] * 0.08)
    answer = reply.split("Answer:")[-1].strip()
    _, reward, terminated, _, info = env.step(f"<think>copy</think><answer>{answer}</answer>")
    assert terminated and info["format_ok"] and info["num_calls"] == 1
    assert info["em"] == float(answer == "Lima") and info["success"] == (answer == "Lima")
    assert info["transcript"].count("<information>") == 1 and "trailing" not in info["transcript"]


def test_unknown_model_gets_none_and_fails_the_format():
    env = make_env()
    env.reset(seed=0)
    obs, _, _, _, info = env.step("<think>x</think><search> gpt-9: what? </search>")
    assert "<information>None</information>" in obs
    assert info["action_valid"] is False and info["calls"][0]["error"] == "unknown model"
    _, reward, terminated, _, info = env.step("<think>y</think><answer>z</answer>")
    assert terminated and reward == -1.0 and info["format_rule"] == "unknown_model"
    assert info["reward_components"] == {"format": -1.0, "outcome": 0.0, "cost": 0.0}
    assert info["num_calls"] == 0 and info["cost"] == 0.0


def test_malformed_turn_is_an_observation_not_a_crash():
    env = make_env()
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("I think the answer is 4")
    assert "Invalid turn" in obs and "general-70b" in obs
    assert (reward, terminated, truncated, info["action_valid"]) == (0.0, False, False, False)
    obs, _, _, _, info = env.step("<think>a</think><search> geo-3b capital? </search>")
    assert "Search ignored" in obs and "<information>" not in obs and not info["action_valid"]
    obs, _, _, _, info = env.step(12345)  # not text at all
    assert "must be text" in obs


def test_turn_limit_truncates_with_the_final_reward():
    env = make_env(max_turns=2)
    env.reset(seed=0)
    question = env.task.question
    _, _, terminated, truncated, first = env.step(f"<think>a</think><search> lex-7b: {question} </search>")
    assert not terminated and not truncated
    _, reward, terminated, truncated, info = env.step(f"<think>b</think><search> arith-1b: {question} </search>")
    assert (terminated, truncated) == (False, True)
    assert reward == -1.0 and info["format_rule"] == "answer_count" and info["num_calls"] == 2
    assert info["reward_components"] == {"format": -1.0, "outcome": 0.0, "cost": 0.0}
    spent = first["calls"][0]["cost"] + info["calls"][0]["cost"]
    assert info["cost"] == pytest.approx(spent) and spent > 0
    with pytest.raises(RuntimeError, match="reset"):
        env.step("<think>c</think><answer>d</answer>")


def test_an_answer_turn_does_not_run_its_searches():
    env = make_env()
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step("<think>a</think><search> geo-3b: q? </search><answer>x</answer>")
    assert terminated and info["num_calls"] == 0 and info["format_rule"] == "search_info_mismatch" and reward == -1


def test_several_searches_in_one_turn_are_answered_in_order():
    env = make_env()
    env.reset(seed=0, options={"task": {"question": "What is 12 plus 13?", "golden_answers": ["25"]}})
    obs, _, _, _, info = env.step("<think>two opinions</think><search> arith-1b: What is 12 plus 13? </search>"
                                  "<search> general-70b: What is 12 plus 13? </search>")
    assert obs.count("<information>") == 2 and [c["model"] for c in info["calls"]] == ["arith-1b", "general-70b"]
    _, _, _, _, info = env.step("<think>t</think><answer>25</answer>")
    # Router-R1's rules count searches and information blocks; they do not pair them by position
    assert info["format_ok"] and info["models_called"] == ["arith-1b", "general-70b"]


def test_f1_reward_metric():
    env = make_env(reward_metric="f1")
    env.reset(seed=0, options={"task": {"question": "Where is the tower?", "golden_answers": ["Eiffel Tower"]}})
    _, reward, _, _, info = env.step("<think>t</think><answer>the Eiffel Tower in Paris</answer>")
    assert info["em"] == 0.0 and info["f1"] == pytest.approx(2 / 3) and reward == pytest.approx(2 / 3)
    assert not info["success"] and info["outcome"] == pytest.approx(2 / 3)


def test_simulated_models_hit_their_accuracies_and_refuse_unknown_text():
    backend = SimulatedBackend()
    tasks = [generate_task(s, ["geography"]) for s in range(400)]
    for name in ("geo-3b", "general-70b"):
        right = sum(backend.reply(name, t.question).endswith("Answer: " + t.golden_answers[0]) for t in tasks)
        assert abs(right / 400 - SIMULATED_MODELS[name].accuracy["geography"]) < 0.06
    assert "cannot help" in backend.reply("geo-3b", "Tell me a joke")
    assert backend.reply("geo-3b", tasks[0].question) == SimulatedBackend().reply("geo-3b", tasks[0].question)
    assert SimulatedBackend(seed=1).reply("lex-7b", tasks[1].question) is not None


def test_qa_flashrag_and_router_r1_files(tmp_path):
    plain = tmp_path / "qa.jsonl"
    plain.write_text('{"question": "Q1?", "answers": ["A1", "a one"]}\n\n{"question": "Q2?", "answer": "A2", "domain": "d"}\n')
    flashrag = tmp_path / "flashrag.jsonl"
    flashrag.write_text(json.dumps({"id": "test_7", "question": "who wrote hamlet", "golden_answers": ["Shakespeare"],
                                    "metadata": {"x": 1}}) + "\n")
    prompt = "Answer the given question... For example: <answer> Beijing </answer>.\nQuestion: Who painted the Mona Lisa?\n"
    verl = {"data_source": "nq", "prompt": [{"role": "user", "content": prompt}], "ability": "fact-reasoning",
            "reward_model": {"style": "rule", "ground_truth": {"target": ["Leonardo da Vinci"]}},
            "extra_info": {"split": "test", "index": 4}}
    router_r1 = tmp_path / "router_r1.jsonl"
    router_r1.write_text(json.dumps(verl) + "\n")
    tasks = load_tasks(plain, flashrag, router_r1)
    assert [t.question for t in tasks] == ["Q1?", "Q2?", "who wrote hamlet", "Who painted the Mona Lisa?"]
    assert tasks[0].golden_answers == ["A1", "a one"] and tasks[1].golden_answers == ["A2"] and tasks[1].domain == "d"
    assert tasks[2].id == "test_7" and tasks[3].id == "nq-4" and tasks[3].golden_answers == ["Leonardo da Vinci"]

    import pandas as pd

    parquet = tmp_path / "test_nh_qwen.parquet"
    pd.DataFrame([verl, verl | {"extra_info": {"split": "test", "index": 5}}]).to_parquet(parquet)
    from_parquet = load_tasks(parquet)
    assert [t.id for t in from_parquet] == ["nq-4", "nq-5"] and from_parquet[0].question == "Who painted the Mona Lisa?"

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
    env = make_env(pool_file=str(pool))
    assert env.pool.names == ["geo-3b", "general-70b"] and env.pool.resolve("BIG").name == "general-70b"
    assert "geography" in env.instructions() and "arith-1b" not in env.instructions()
    with pytest.raises(ConfigError, match="simulated, replay, openai, transformers"):
        make_env(backend="carrier-pigeon")
    with pytest.raises(ConfigError, match="base_url"):
        make_env(pool=[{"name": "m", "backend": "openai"}])
    with pytest.raises(ConfigError, match="selects both"):
        make_env(pool=[{"name": "a", "aliases": ["b"]}, {"name": "b"}])
    with pytest.raises(ConfigError, match="alpha"):
        make_env(alpha=2.0)
    with pytest.raises(ConfigError, match="Valid keys"):
        make_env(cost_coefficient=0.5)
    with pytest.raises(ConfigError, match="price_pre_1m"):
        make_env(pool=[{"name": "m", "price_pre_1m": 1.0}])
    with pytest.raises(ConfigError, match="without ':'"):
        make_env(pool=[{"name": "org:model"}])


def test_replay_backend_misses_are_none(tmp_path):
    replay = tmp_path / "r.jsonl"
    replay.write_text('{"model": "m", "query": "known?", "response": "yes it is", "latency_s": 0.7}\n')
    env = make_env(pool=[{"name": "m", "price_per_1m": 3.0}], backend="replay", replay_files=[str(replay)])
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
    env = make_env(pool=[{"name": "tiny-lm", "price_per_1m": 5.0, "backend": "transformers", "hf_model": "tiny"}],
                   calls={"max_tokens": 4})
    env.reset(seed=0)
    obs, _, _, _, info = env.step("<think>a</think><search> tiny-lm: hello there </search>")
    [call] = info["calls"]
    assert call["ok"] and 0 <= call["completion_tokens"] <= 4 and call["cost"] == 5.0 * call["completion_tokens"]
    assert obs.count("<information>") == 1
    env.close()


def test_trainable_with_a_plain_text_policy():
    """A text policy that follows the protocol plays batched episodes through the rollout engine."""
    def policy(item):
        if not item.history:
            return f"<think>route</think><search> general-70b: {item.info['question']} </search>"
        reply = item.observation.split("<information>")[1].split("</information>")[0]
        return f"<think>copy</think><answer>{reply.split('Answer:')[-1].strip()}</answer>"

    envs = [make_env() for _ in range(3)]
    batch = run_episodes(envs, ScriptedPolicy(policy), grouped_specs(range(12), 1))
    assert all(len(t.turns) == 2 and t.turns[-1].terminated for t in batch)
    assert all(t.turns[-1].info["format_ok"] for t in batch)
    assert all(t.outcome == t.turns[-1].info["em"] for t in batch)
    assert 0.4 < batch.summary()["success_rate"] <= 1.0
    assert "Models:" in batch[0].instructions and "general-70b" in batch[0].instructions


def test_a_smaller_simulated_pool_only_routes_to_its_members():
    env = make_env(pool=[m for m in simulated_pool() if m.name != "general-70b"])
    env.reset(seed=0, options={"task": {"question": "What is the capital of Peru?", "golden_answers": ["Lima"]}})
    obs, _, _, _, info = env.step("<think>a</think><search> general-70b: What is the capital of Peru? </search>")
    assert "<information>None</information>" in obs and info["calls"][0]["error"] == "unknown model"
    obs, _, _, _, info = env.step("<think>a</think><search> geo-3b: What is the capital of Peru? </search>")
    assert "Answer:" in obs and info["calls"][0]["ok"]
