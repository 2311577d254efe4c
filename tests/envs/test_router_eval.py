"""``agentrl router-eval``: Router-R1's seven test sets from local FlashRAG and Router-R1 parquet files,
a router and the candidates behind loopback OpenAI-compatible servers, per-dataset rows; the
offline default; baselines that survive a colon in the question."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from agentrl.cli import main
from agentrl.envs.router.baselines import KNNRouter, ProbeTable, RouteThenAnswer, fixed, uniform_random
from agentrl.envs.router.data import load_benchmark
from agentrl.envs.router.env import RouterEnv
from agentrl.envs.router.router_r1 import ROUTER_R1_PRICES, candidate_prompt, router_r1_prompt, sample_indices
from agentrl.eval.router_eval import (
    PAPER_TABLE,
    RouterScore,
    front_checks,
    paper_layout,
    pareto_front,
    router_eval,
    upstream_rewards,
)
from agentrl.serving import ChatReply, OpenAICompatServer, cut_at_stop

# ------------------------------------------------------------------------------ fixtures
#: What the candidate models know: question keyword -> answer. LLaMA-3.1-70B knows all but the
#: last; Qwen only the NQ ones; the others know nothing.
FACTS = {
    "Hamlet": ("William Shakespeare", "nq"), "War and Peace": ("Leo Tolstoy", "nq"),
    "Mona Lisa": ("Leonardo da Vinci", "nq"), "Peru": ("Lima", "nq"), "Kenya": ("Nairobi", "nq"),
    "penicillin": ("Alexander Fleming", "nq"),
    "Eiffel": ("Gustave Eiffel", "triviaqa"), "boiling": ("100", "triviaqa"), "Everest": ("Nepal", "triviaqa"),
    "relativity": ("Albert Einstein", "bamboogle"), "Zanzibar": ("Stone Town", "bamboogle"),
}
UNKNOWN_TO_70B = "Zanzibar"
REPLY_TOKENS = {model_id: 10 + i for i, model_id in enumerate(sorted(ROUTER_R1_PRICES))}


def fact_for(text: str):
    return next(((key, answer, source) for key, (answer, source) in FACTS.items() if key in text), None)


class Candidates:
    """The candidate pool behind one OpenAI-compatible endpoint, keyed by Router-R1's model ids."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, list[dict], dict]] = []
        self.lock = threading.Lock()

    def __call__(self, model: str, messages: list[dict], params: dict) -> ChatReply:
        with self.lock:
            self.requests.append((model, messages, params))
        question = messages[-1]["content"].split("assist with:")[-1]
        found = fact_for(question)
        knows = found and ((model == "meta/llama-3.1-70b-instruct" and found[0] != UNKNOWN_TO_70B)
                           or (model == "qwen/qwen2.5-7b-instruct" and found[2] == "nq"))
        text = f"I believe so. Answer: {found[1]}" if knows else "I am unable to assist; consult other LLMs."
        return ChatReply(text, completion_tokens=REPLY_TOKENS[model])


def scripted_router(model: str, messages: list[dict], params: dict) -> ChatReply:
    """A Router-R1-like router model: asks LLaMA-3.1-70B, then answers with its reply (it writes on past
    its search, and a fabricated block, which the env cuts off)."""
    prompt = messages[0]["content"]
    question = prompt[prompt.rfind("Question:") + len("Question:"):].strip()
    reply_so_far = messages[1]["content"] if len(messages) > 1 else ""
    if "<information>" not in reply_so_far:
        text = (f"<think>I need facts about this.</think>\n<search> LLaMA-3.1-70B-Instruct: {question} </search>"
                "\n<information>I imagine the answer</information>")
    else:
        information = reply_so_far.split("<information>")[-1].split("</information>")[0]
        answer = information.split("Answer:")[-1].strip() if "Answer:" in information else "unknown"
        text = f"<think>The model replied.</think>\n<answer>{answer}</answer>"
    text, matched = cut_at_stop(text, params.get("stop"))
    return ChatReply(text, stop_reason=matched)


@pytest.fixture(scope="module")
def servers():
    candidates = Candidates()
    with OpenAICompatServer(candidates) as pool, OpenAICompatServer(scripted_router) as router:
        yield candidates, pool, router


def flashrag(question: str, answer: str, i: int) -> str:
    return json.dumps({"id": f"test_{i}", "question": question, "golden_answers": [answer], "metadata": {}})


def write_datasets(root):
    """NQ as a FlashRAG folder with a test split, TriviaQA with only a dev split, Bamboogle as a
    Router-R1 parquet file (already drawn, prompt included)."""
    import pandas as pd

    (root / "nq").mkdir(parents=True)
    nq = [("who wrote Hamlet", "William Shakespeare"), ("who wrote War and Peace?", "Leo Tolstoy"),
          ("who painted the Mona Lisa", "Leonardo da Vinci"), ("what is the capital of Peru", "Lima"),
          ("what is the capital of Kenya?", "Nairobi"), ("who discovered penicillin", "Alexander Fleming")]
    (root / "nq" / "test.jsonl").write_text("\n".join(flashrag(q, a, i) for i, (q, a) in enumerate(nq)) + "\n")
    (root / "nq" / "train.jsonl").write_text(flashrag("never drawn", "x", 99) + "\n")
    (root / "triviaqa").mkdir()
    trivia = [("who built the Eiffel tower", "Gustave Eiffel"), ("boiling point of water in celsius", "100"),
              ("Everest lies in which country", "Nepal")]
    (root / "triviaqa" / "dev.jsonl").write_text("\n".join(flashrag(q, a, i) for i, (q, a) in enumerate(trivia)))
    rows = [{"data_source": "bamboogle", "prompt": [{"role": "user", "content": router_r1_prompt(q)}],
             "ability": "fact-reasoning", "reward_model": {"style": "rule", "ground_truth": {"target": [a]}},
             "extra_info": {"split": "test", "index": i}}
            for i, (q, a) in enumerate([("Who developed the theory of relativity?", "Albert Einstein"),
                                        ("What is the old town of Zanzibar City called?", "Stone Town")])]
    pd.DataFrame(rows).to_parquet(root / "test_bamboogle_qwen.parquet")
    return nq, trivia


# ------------------------------------------------------------------------------ the end-to-end run
def test_router_eval_end_to_end_on_local_test_sets(servers, tmp_path, capsys):
    candidates, pool, router = servers
    nq, _trivia = write_datasets(tmp_path / "data")
    out = tmp_path / "eval"
    code = main(["router-eval", "--data-dir", str(tmp_path / "data"), "--datasets", "nq", "triviaqa", "bamboogle",
                 "--sample-size", "4", "--policy", f"api:router-r1@{router.base_url}",
                 "--candidates-url", pool.base_url, "--baselines", "single", "cascade",
                 "--num-envs", "4", "--out-dir", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    saved = json.loads((out / "router_eval.json").read_text())
    assert saved["protocol"] == "router-r1" and saved["datasets"] == {"nq": 4, "triviaqa": 3, "bamboogle": 2}

    # the draw is qa_test_gen.py's: 4 of NQ's 6 test rows with seed 42, '?' appended; TriviaQA's dev split
    drawn = [nq[i][0] for i in sample_indices(6, 4, 42)]
    assert [t.question for t in load_benchmark("nq", tmp_path / "data" / "nq", size=4)] == \
        [q if q.endswith("?") else q + "?" for q in drawn]

    rows = {(r["router"], r["dataset"]): r for r in saved["per_dataset"]}
    router_name = f"api:router-r1@{router.base_url}"
    # hand-worked: the router asks LLaMA-3.1-70B once per question; it knows every question but Zanzibar's
    expected_em = {"nq": 1.0, "triviaqa": 1.0, "bamboogle": 0.5}
    llama_cost = REPLY_TOKENS["meta/llama-3.1-70b-instruct"] * 0.88
    for dataset, size in saved["datasets"].items():
        row = rows[(router_name, dataset)]
        assert row["questions"] == size and row["em"] == expected_em[dataset], dataset
        assert row["calls_per_question"] == 1.0 and row["format_ok"] == 1.0 and row["route_count"] == 1.0
        assert row["cost"] == pytest.approx(llama_cost) and row["usd_per_1k"] == pytest.approx(llama_cost / 1000)
        assert row["reward"] == pytest.approx(expected_em[dataset])  # alpha = 0: reward = EM with a valid format
        # the single-model baseline of the same model scores the same
        assert rows[("single:LLaMA-3.1-70B-Instruct", dataset)]["em"] == expected_em[dataset]
    qwen = {d: rows[("single:Qwen2.5-7B-Instruct", d)]["em"] for d in saved["datasets"]}
    assert qwen == {"nq": 1.0, "triviaqa": 0.0, "bamboogle": 0.0}
    overall = {r["router"]: r for r in saved["routers"]}
    assert overall[router_name]["em"] == pytest.approx(np.mean(list(expected_em.values())))  # the paper's Avg.
    # multi-round: LLaMA-8B and Mistral decline, so the cascade goes on to Qwen (3 calls), which knows NQ
    cascade = {d: rows[("cascade", d)] for d in saved["datasets"]}
    assert all(row["calls_per_question"] == 3.0 for row in cascade.values())
    assert (cascade["nq"]["em"], cascade["triviaqa"]["em"]) == (1.0, 0.0)

    # the candidates got Router-R1's request: AGENT_PROMPT around the routed query, by model id
    llama_requests = [(m, p) for m, p, _ in candidates.requests if m == "meta/llama-3.1-70b-instruct"]
    assert any(p == [{"role": "user", "content": candidate_prompt(" Who developed the theory of relativity?")}]
               for _, p in llama_requests)
    # printed: the paper's layout (datasets as columns, its rows for reference) and one row per dataset
    assert "NQ" in printed and "TriviaQA" in printed and "Bamb" in printed and "Avg." in printed
    assert "paper, Table 1" in printed and "Router-R1-Qwen" in printed
    assert f"{'bamboogle':<17}" in printed and "calls/q" in printed
    assert (out / "pareto.png").stat().st_size > 5_000


def test_the_router_continues_one_reply_and_stop_strings_match_no_stops(servers, tmp_path):
    """With infer_vllm.py's stop strings (tags re-added) the scores equal those without any."""
    _candidates, pool, router = servers
    write_datasets(tmp_path / "data")
    common = dict(data_dir=str(tmp_path / "data"), datasets=["nq"], sample_size=3, baselines=[],
                  candidates_url=pool.base_url, policies={"r": f"api:router-r1@{router.base_url}"})
    plain = router_eval(out_dir=str(tmp_path / "a"), **common)
    stopped = router_eval(out_dir=str(tmp_path / "b"), generation={"stop": ["</search>", "</answer>"]}, **common)
    assert plain["per_dataset"] == stopped["per_dataset"] and plain["routers"][0]["em"] == 1.0


# ------------------------------------------------------------------------------ the colon question
@pytest.mark.parametrize("slow_baselines", [
    pytest.param([], id="fast"), pytest.param(["knn"], marks=pytest.mark.slow, id="knn"),  # MiniLM loads in ~20 s
])
def test_a_colon_in_the_question_no_longer_changes_any_baselines_score(servers, tmp_path, slow_baselines):
    _candidates, pool, _ = servers
    plain = ["Who wrote War and Peace?", "Who painted the Mona Lisa?", "What is the capital of Peru?"]
    with_colon = ["Who wrote: War and Peace?", "Who painted: the Mona Lisa?", "What is the capital of: Peru?"]
    answers = ["Leo Tolstoy", "Leonardo da Vinci", "Lima"]
    results = {}
    for name, questions in (("plain", plain), ("colon", with_colon)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("\n".join(json.dumps({"question": q, "golden_answers": [a]}) for q, a in zip(questions, answers)))
        result = router_eval(env_kwargs={"task_files": [str(path)]}, candidates_url=pool.base_url,
                             baselines=["single", "random", "cheapest", "most-expensive", "oracle", "cascade",
                                        *slow_baselines],
                             out_dir=str(tmp_path / name))
        results[name] = {r["router"]: r for r in result["routers"]}
    assert results["plain"].keys() == results["colon"].keys() and len(results["plain"]) == 11 + len(slow_baselines)
    for router, row in results["colon"].items():
        plain_row = results["plain"][router]
        assert row["format_ok"] == 1.0, router
        assert (row["em"], row["f1"], row["reward"]) == (plain_row["em"], plain_row["f1"], plain_row["reward"]), router
    assert results["colon"]["oracle"]["em"] == 1.0
    # what the quoting prevents: the raw question makes a second colon, which fails the format
    env = RouterEnv(shared_cost_window=None)
    env.reset(seed=0, options={"task": {"question": with_colon[2], "golden_answers": ["Lima"]}})
    env.step(f"<think>geo</think><search> Gemma: {with_colon[2]} </search>")
    _, reward, _, _, info = env.step("<think>t</think><answer>Lima</answer>")
    assert reward == -1.0 and info["format_rule"] == "bad_query"


# ------------------------------------------------------------------------------ units and the offline default
def scored(name, em, cost):
    return RouterScore(name, em, em, cost, cost / 1000, 1.0, 1.0, em)


def test_pareto_front_and_checks_by_hand():
    scores = [scored("single:a", 0.4, 1.0), scored("single:b", 0.8, 30.0), scored("single:c", 0.3, 2.0),
              scored("oracle", 0.97, 1.5), scored("knn", 0.88, 6.0), scored("random", 0.5, 8.0)]
    assert pareto_front(scores) == ["single:a", "oracle"]
    checks = front_checks(scores)
    assert checks["oracle_above_every_single_model"] and checks["oracle_on_pareto_front"]
    assert checks["best_single_em_at_knn_cost"] == 0.4 and checks["knn_between_single_front_and_oracle"]
    worse = front_checks([scored("single:a", 0.9, 1.0), scored("oracle", 0.85, 0.5), scored("knn", 0.95, 2.0)])
    assert not worse["oracle_above_every_single_model"] and not worse["knn_between_single_front_and_oracle"]


def test_paper_layout_puts_datasets_in_columns_with_the_papers_rows():
    scores = [RouterScore("mine", 0.5, 0.5, 1.0, 0.001, 1.0, 1.0, 0.5, dataset="nq"),
              RouterScore("mine", 0.25, 0.3, 1.0, 0.001, 1.0, 1.0, 0.25, dataset="popqa"),
              RouterScore("mine", 0.375, 0.4, 1.0, 0.001, 1.0, 1.0, 0.375, dataset="all")]
    text = paper_layout(scores)
    header, mine = text.splitlines()[:2]
    assert header.split()[1:] == ["NQ", "PopQA", "Avg."] and mine.split()[1:] == ["0.500", "0.250", "0.375"]
    qwen = next(line for line in text.splitlines() if "Router-R1-Qwen" in line)
    assert qwen.split()[-3:] == ["0.388", "0.384", f"{(0.388 + 0.384) / 2:.3f}"]
    assert PAPER_TABLE["Router-R1-Qwen (Qwen2.5-3B)"][-1] == 0.512


def test_rewards_are_recomputed_in_question_order_with_one_window():
    class Config:
        cost_window, cost_quantiles, alpha = 1000, (0.05, 0.95), 0.5

    rows = [{"format_ok": 1.0, "outcome": 1.0, "cost": c} for c in (4.0, 16.0, 0.0)]
    # the worked example of docs/router.md: windows [2] -> 0.5, [2, 4] -> 0, [2, 4, 0] -> 1
    assert upstream_rewards(rows, Config) == pytest.approx([0.75, 0.5, 1.0])
    rows[1]["format_ok"] = 0.0
    assert upstream_rewards(rows, Config)[1] == -1.0


def test_knn_router_votes_with_neighbours():
    # two clusters on a line; model x is right near 0, model y near 10; y costs more
    questions = ["0", "1", "2", "9", "10", "11"]
    quality = [[1, 0], [1, 0], [1, 1], [0, 1], [0, 1], [1, 1]]
    cost = [[1, 5]] * 6

    def embed(texts):
        values = np.array([[float(t), 1.0] for t in texts])
        return values / np.linalg.norm(values, axis=1, keepdims=True)

    table = ProbeTable(questions, ["x", "y"], np.array(quality, float), np.array(cost, float))
    knn = KNNRouter(table, embed, k=3, cost_weight=0.1)
    assert knn("0.5") == "x" and knn("10.5") == "y"
    loo = KNNRouter(table, embed, k=1, exclude_self=True)
    assert loo("0") == "x"
    with pytest.raises(ValueError):
        KNNRouter(table, embed, k=0)


def test_random_router_is_deterministic_per_question():
    choose = uniform_random(["a", "b", "c"], seed=3)
    picks = [choose(f"q{i}") for i in range(60)]
    assert picks == [choose(f"q{i}") for i in range(60)] and set(picks) == {"a", "b", "c"}


def test_task_files_are_evaluated_once_each(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps({"question": f"What is {n} plus {n}?", "golden_answers": [str(2 * n)]})
                              for n in (12, 13, 14)))
    result = router_eval(env_kwargs={"task_files": [str(path)]}, episodes=50, baselines=["cheapest"],
                         out_dir=str(tmp_path / "out"))
    assert result["questions"] == 3 and result["routers"][0]["questions"] == 3


@pytest.mark.slow
def test_offline_default_oracle_above_singles_and_knn_between(tmp_path):
    result = router_eval(episodes=150, out_dir=str(tmp_path))
    routers = {r["router"]: r for r in result["routers"]}
    singles = [r for name, r in routers.items() if name.startswith("single:")]
    assert len(singles) == 6
    oracle, knn = routers["oracle"], routers["knn"]
    assert all(oracle["em"] > s["em"] for s in singles)
    assert oracle["cost"] < max(s["cost"] for s in singles)
    best_single_at_knn_cost = max(s["em"] for s in singles if s["cost"] <= knn["cost"])
    assert best_single_at_knn_cost < knn["em"] < oracle["em"]
    assert result["checks"] == {"oracle_above_every_single_model": True, "oracle_on_pareto_front": True,
                                "knn_between_single_front_and_oracle": True,
                                "best_single_em_at_knn_cost": best_single_at_knn_cost}
    assert routers["cheapest"]["em"] == routers["single:LLaMA-3.1-8B-Instruct"]["em"]
    assert routers["most-expensive"]["cost"] == routers["single:Mixtral-8x22B-Instruct"]["cost"]
    assert all(r["format_ok"] == 1.0 for r in routers.values())
    assert all(r["calls_per_question"] == 1.0 for name, r in routers.items() if name != "cascade")
    saved = json.loads((tmp_path / "router_eval.json").read_text())
    assert saved["checks"] == result["checks"] and (tmp_path / "pareto.png").stat().st_size > 10_000
    assert "oracle" in saved["pareto_front"]


def test_a_policy_object_and_the_cli_errors(tmp_path, capsys):
    result = router_eval(episodes=6, baselines=["single"], out_dir=str(tmp_path / "a"), num_envs=3,
                         policies={"fixed-70b": RouteThenAnswer(fixed("LLaMA-3.1-70B-Instruct"))})
    routers = {r["router"]: r for r in result["routers"]}
    assert routers["fixed-70b"]["em"] == routers["single:LLaMA-3.1-70B-Instruct"]["em"]
    assert routers["fixed-70b"]["cost"] == routers["single:LLaMA-3.1-70B-Instruct"]["cost"] > 0
    out = tmp_path / "eval"
    assert main(["router-eval", "--episodes", "6", "--baselines", "single", "oracle", "random",
                 "--out-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "oracle" in printed and "EM" in printed and "$/1k q" in printed
    assert (out / "router_eval.json").exists() and (out / "pareto.png").exists()
    assert main(["router-eval", "--baselines", "bogus", "--out-dir", str(out)]) == 2
    assert "single, random" in capsys.readouterr().err
    assert main(["router-eval", "--datasets", "nq", "--out-dir", str(out)]) == 2
    assert "data_dir" in capsys.readouterr().err
    assert main(["router-eval", "--datasets", "nq", "--data-dir", str(tmp_path), "--out-dir", str(out)]) == 2
    assert "FlashRAG folder" in capsys.readouterr().err
    assert main(["router-eval", "--datasets", "webqa", "--data-dir", str(tmp_path), "--out-dir", str(out)]) == 2
    assert "bamboogle" in capsys.readouterr().err


def chat_router(model: str, messages: list[dict], params: dict) -> ChatReply:
    """A chat router (chat protocol: observations as user turns) that stops at the tags."""
    if len(messages) <= 2:  # system + "Question: ..."
        question = messages[-1]["content"].removeprefix("Question:").strip()
        text = f"<think>ask the big one</think><search> LLaMA-3.1-70B-Instruct: {question} </search> more"
    else:
        answer = messages[-1]["content"].split("Answer:")[-1].split("</information>")[0].strip()
        text = f"<think>copy</think><answer>{answer}</answer> and more"
    text, matched = cut_at_stop(text, params.get("stop"))
    return ChatReply(text, stop_reason=matched)


def test_chat_protocol_api_router_gets_its_stop_tags_back(tmp_path):
    with OpenAICompatServer(chat_router) as server:
        result = router_eval(episodes=8, baselines=["single"], env_kwargs={"protocol": "chat"}, num_envs=4,
                             generation={"stop": ["</search>", "</answer>"]}, out_dir=str(tmp_path),
                             policies={"chat-router": f"api:chat-router@{server.base_url}"})
        assert server.requests_served == 16
    routers = {r["router"]: r for r in result["routers"]}
    assert routers["chat-router"]["format_ok"] == 1.0  # the cut-off </search> and </answer> were put back
    assert routers["chat-router"]["em"] == routers["single:LLaMA-3.1-70B-Instruct"]["em"] > 0


@pytest.mark.slow  # builds the tiny transformers model
def test_hf_router_runs_router_r1s_loop_in_router_eval(tmp_path):
    result = router_eval(episodes=2, baselines=[], out_dir=str(tmp_path), policies={"tiny": "hf:tiny"},
                         generation={"max_new_tokens": 8, "max_prompt_tokens": 200, "max_context_tokens": 300})
    [row] = result["routers"]
    assert row["router"] == "tiny" and row["questions"] == 2 and row["format_ok"] == 0.0  # a random model
