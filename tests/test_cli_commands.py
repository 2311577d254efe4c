"""The command line as a user meets it: every verb, custom envs from the command line, evaluation of
a trained run on its own terms, and one clear message with exit code 2 for every bad input."""

import io
import json
import sys
from pathlib import Path

import pytest
import torch
import yaml

import agentrl
from agentrl.cli import build_parser, main

VERBS = ["envs", "play", "eval", "train", "plot", "export", "router-eval", "sandbox", "bench"]

#: A module that registers an env, as a user would write next to their config.
GUESS_MODULE = '''
import agentrl
from agentrl.core import ScriptedPolicy, TextEnv, Transition


class EchoEnv(TextEnv):
    """Say the secret word."""

    def reset_state(self, seed, options):
        self.word, self.done_right = ["apple", "pear", "plum"][int(self.np_random.integers(0, 3))], False

    def step_action(self, action):
        self.done_right = action == self.word
        return Transition(reward_components={"right": float(self.done_right)}, terminated=self.done_right)

    def render_text(self):
        return f"Say {self.word}."

    def is_success(self):
        return self.done_right

    def expert_policy(self):
        return ScriptedPolicy(lambda step: "<answer>" + step.observation.split()[-1].rstrip(".") + "</answer>")


agentrl.register("Echo{n}-v0", EchoEnv, description="Say the word you are shown.")
'''


def run_cli(argv, capsys):
    """``(exit code, stdout, stderr)`` of ``agentrl ARGV`` (argparse's usage errors included)."""
    try:
        code = main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_verb_is_registered():
    choices = build_parser()._subparsers._group_actions[0].choices
    assert set(VERBS) <= set(choices)


@pytest.mark.parametrize("verb", VERBS)
def test_every_command_has_help_with_examples(verb, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([verb, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"agentrl {verb}" in out


def test_envs_lists_every_registered_env(capsys):
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    for env_id in agentrl.list_envs():
        assert env_id in out


def test_play_reads_moves_from_stdin(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("Left\nfly\nquit\n"))
    assert main(["play", "agentrl/Sokoban-v0", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "reward -0.10" in out and "Invalid action" in out and "bye" in out


def test_play_quotes_a_huge_action_only_in_part(monkeypatch, capsys):
    """``max_action_chars`` is enforced by the env: a 200 KB line is refused with an explanation and
    quoted back in part, never whole."""
    huge = "x" * 200_000
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{huge}\nquit\n"))
    assert main(["play", "agentrl/Sokoban-v0", "--seed", "3", "--env-arg", "max_action_chars=1000"]) == 0
    out = capsys.readouterr().out
    assert "1000" in out and "more characters" in out and "reward -0.10" in out
    assert len(out) < 5_000  # the line itself is not echoed back


def test_eval_prints_summary_and_writes_json(tmp_path, capsys):
    path = tmp_path / "solver.json"
    assert main(["eval", "--env", "agentrl/Sokoban-v0", "--policy", "solver", "--episodes", "6",
                 "--out", str(path)]) == 0
    result = json.loads(path.read_text())
    assert result["summary"]["success_rate"] == 1.0 and len(result["episodes"]) == 6
    assert "100.0%" in capsys.readouterr().out


def test_eval_table_keeps_columns_apart_and_names_whole(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    policy = "checkpoint:" + "a-long-run-name/" * 3  # longer than any fixed column
    from agentrl.commands.eval import print_table

    summary = {"episodes": 200, "success_rate": 0.785, "mean_outcome": 0.785, "mean_return": 7.123, "mean_turns": 6.5}
    print_table([{"env": "agentrl/Sokoban-v0", "policy": policy, "summary": summary}])
    header, row = capsys.readouterr().out.splitlines()
    assert policy in row and "agentrl/Sokoban-v0  " in row
    cells = row.split()
    assert cells == ["agentrl/Sokoban-v0", policy, "200", "78.5%", "0.785", "7.12", "6.5"]
    assert len(header) == len(row)


def test_eval_never_overwrites_an_earlier_result_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["eval", "--env", "agentrl/Sokoban-v0", "--policy", "random", "--episodes", "2"]) == 0
    written = sorted(p.name for p in (tmp_path / "evals").iterdir())
    assert written == ["Sokoban-v0-random-2.json", "Sokoban-v0-random.json"]


# ------------------------------------------------------------------ a trained run, evaluated
def small_config(tmp_path, name="run", **sections):
    config = {
        "env": {"kwargs": {"max_turns": 4, "dim_room": [5, 5]}, "eval_kwargs": {"max_turns": 5}},
        "policy": {"tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2}, "context": "last",
                   "system_prompt": False, "max_new_tokens": 5},
        "sft": {"episodes": 8, "steps": 3, "batch_size": 8},
        "rl": {"iterations": 1, "tasks_per_iteration": 2, "group_size": 2, "num_envs": 4, "minibatch_size": 8},
        "eval": {"episodes": 5, "every": 1, "seed": 777, "greedy": True},
        "run": {"output_dir": str(tmp_path / name), "progress": False, "tensorboard": False},
    }
    for key, value in sections.items():
        config[key] = {**config.get(key, {}), **value}
    return config


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli-run")
    result = agentrl.train(small_config(tmp))
    return result


def test_eval_of_a_checkpoint_defaults_to_the_runs_env_settings_and_held_out_seeds(trained_run, tmp_path,
                                                                                    monkeypatch, capsys):
    """``--policy checkpoint:RUN`` without ``--env`` plays the run's env with its settings (kwargs and
    eval_kwargs) on its held-out seeds, says so, and reproduces the run's own last evaluation."""
    monkeypatch.chdir(tmp_path)
    run = trained_run.output_dir
    code, out, err = run_cli(["eval", "--policy", f"checkpoint:{run}"], capsys)
    assert code == 0, err
    assert "the run's env agentrl/Sokoban-v0 with {'max_turns': 5, 'dim_room': [5, 5]}, seeds 777..781" in out
    written = run / "evals" / "checkpoint-iter-000001.json"
    result = json.loads(written.read_text())
    assert result["env_kwargs"] == {"max_turns": 5, "dim_room": [5, 5]} and result["seeds"] == [777, 781]
    assert [e["task_id"] for e in result["episodes"]][0].startswith("sokoban-5x5-b1-seed777")
    last_eval = trained_run.metrics[-1]
    assert result["summary"]["success_rate"] == last_eval["eval/success_rate"]
    assert result["summary"]["mean_return"] == pytest.approx(last_eval["eval/mean_return"])


def test_eval_of_a_baseline_on_a_runs_rooms(trained_run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["eval", "--policy", "random", "--run", str(trained_run.output_dir),
                              "--episodes", "3", "--out", "random.json"], capsys)
    assert code == 0, err
    result = json.loads((tmp_path / "random.json").read_text())
    assert result["env_kwargs"] == {"max_turns": 5, "dim_room": [5, 5]} and result["seeds"] == [777, 779]
    assert "(as given)" in out


def test_eval_with_another_env_than_the_runs_says_so(trained_run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["eval", "--policy", "random", "--run", str(trained_run.output_dir),
                              "--env", "agentrl/Bargaining-v0", "--episodes", "2"], capsys)
    assert code == 0, err
    assert "is not the run's env" in out


def test_plot_compares_runs_and_seeds(trained_run, tmp_path, capsys):
    other = agentrl.train(small_config(tmp_path, "seed1", run={"seed": 1}))
    different = agentrl.train(small_config(tmp_path, "lr", rl={"lr": 0.01}))
    out_png = tmp_path / "cmp.png"
    code, out, err = run_cli(["plot", str(trained_run.output_dir), str(other.output_dir),
                              str(different.output_dir), "--out", str(out_png)], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert any(line.startswith("rl.lr=0.0001 (2 seeds): final held-out success") for line in lines)
    assert any(line.startswith("rl.lr=0.01: final held-out success") for line in lines)
    assert out_png.read_bytes()[:4] == b"\x89PNG"


def test_export_command_writes_a_transformers_folder(trained_run, tmp_path, capsys):
    from transformers import AutoModelForCausalLM

    code, out, err = run_cli(["export", str(trained_run.output_dir), "--to", str(tmp_path / "model")], capsys)
    assert code == 0, err
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    assert sum(p.numel() for p in model.parameters()) > 0 and "iteration 1" in out
    code, out, err = run_cli(["eval", "--policy", f"hf:{tmp_path / 'model'}", "--out", str(tmp_path / "e.json")],
                             capsys)  # an exported run is evaluated on its run's terms too
    assert code == 0, err
    assert json.loads((tmp_path / "e.json").read_text())["seeds"] == [777, 781]


# ------------------------------------------------------------------- custom envs from the CLI
def test_import_option_and_module_env_form(tmp_path, monkeypatch, capsys):
    """``--import MODULE`` (a module in the current folder or a .py file) and gymnasium's
    ``module:Env-v0`` id register an unpackaged env for eval, play and train."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for n in (1, 2, 3, 4):
        (tmp_path / f"echo_envs{n}.py").write_text(GUESS_MODULE.replace("{n}", str(n)))
    code, out, err = run_cli(["eval", "--import", "echo_envs1", "--env", "agentrl/Echo1-v0", "--policy", "expert",
                              "--episodes", "4", "--out", "a.json"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "a.json").read_text())["summary"]["success_rate"] == 1.0
    code, out, err = run_cli(["eval", "--env", "echo_envs2:Echo2-v0", "--policy", "expert", "--episodes", "2",
                              "--out", "b.json"], capsys)
    assert code == 0, err
    monkeypatch.setattr(sys, "stdin", io.StringIO("banana\nquit\n"))
    code, out, err = run_cli(["play", "--import", "echo_envs3.py", "agentrl/Echo3-v0", "--seed", "0"], capsys)
    assert code == 0 and "Say " in out and "reward +0.00" in out
    code, out, err = run_cli(["train", "env.id=echo_envs4:Echo4-v0", "policy.tiny.hidden_size=32",
                              "policy.tiny.num_layers=1", "policy.tiny.num_heads=2", "sft.episodes=4", "sft.steps=2",
                              "rl.iterations=1", "rl.tasks_per_iteration=2", "rl.group_size=2", "rl.num_envs=4",
                              "eval.episodes=2", "run.output_dir=echo-run", "run.tensorboard=false"], capsys)
    assert code == 0, err
    stored = yaml.safe_load((tmp_path / "echo-run" / "config.yaml").read_text())
    assert stored["env"]["id"] == "echo_envs4:Echo4-v0"  # the module is part of the id: the run can be re-read


def test_the_installed_command_imports_a_module_from_the_current_folder(tmp_path):
    """The ``agentrl`` script (whose sys.path starts at its own bin/ folder) finds my_envs.py here."""
    import os
    import subprocess

    script = Path(sys.executable).with_name("agentrl")
    if not script.exists():
        pytest.skip("the agentrl console script is not installed next to this Python")
    (tmp_path / "echo_envs9.py").write_text(GUESS_MODULE.replace("{n}", "9"))
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment["PYTHONPATH"] = str(Path(agentrl.__file__).resolve().parents[1])  # this checkout's agentrl
    done = subprocess.run([str(script), "eval", "--env", "echo_envs9:Echo9-v0", "--policy", "expert", "--episodes",
                           "2", "--out", "r.json"], cwd=tmp_path, env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["success_rate"] == 1.0


def test_env_kwargs_are_typed_and_replaceable_from_the_command_line(tmp_path, capsys):
    def show(*overrides):
        code, out, err = run_cli(["train", "--show-config", *overrides], capsys)
        assert code == 0, err
        return yaml.safe_load(out)["env"]

    merged = show("env.kwargs.max_turns=10", "env.kwargs.dim_room=[7,7]", "env.kwargs.symbols=xsb")
    assert merged["kwargs"] == {"dim_room": [7, 7], "num_boxes": 1, "max_turns": 10, "min_solution_moves": 4,
                                "symbols": "xsb"}
    assert show("env.kwargs={}")["kwargs"] == {}
    assert show("env.kwargs={max_turns: 3}")["kwargs"] == {"max_turns": 3}
    assert show("env.kwargs={max_turns: 3}", "env.kwargs.num_boxes=2")["kwargs"] == {"max_turns": 3, "num_boxes": 2}
    switched = show("env.id=agentrl/Bargaining-v0")  # the preset's Sokoban settings stay behind
    assert switched == {"id": "agentrl/Bargaining-v0", "kwargs": {}, "eval_kwargs": {}}
    assert show("env.id=agentrl/Bargaining-v0", "env.kwargs.opponent=boulware")["kwargs"] == {"opponent": "boulware"}


def test_switching_env_on_the_command_line_trains(tmp_path, capsys):
    code, out, err = run_cli(["train", "--config", "quickstart", "env.id=agentrl/Bargaining-v0",
                              "env.kwargs={opponent: boulware, short_expert: true}", "policy.tiny.num_layers=1",
                              "sft.episodes=4", "sft.steps=2", "rl.iterations=1", "rl.tasks_per_iteration=2",
                              "rl.group_size=2", "rl.num_envs=4", "eval.episodes=2", "policy.max_new_tokens=12",
                              f"run.output_dir={tmp_path / 'bargain'}", "run.tensorboard=false"], capsys)
    assert code == 0, err
    assert "start-up: agentrl/Bargaining-v0" in err


def test_default_output_folder_is_derived_from_the_config(tmp_path, monkeypatch, capsys):
    """A config without ``run.output_dir`` never lands in another run's folder (the quickstart's)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my.yaml").write_text("env: {kwargs: {max_turns: 5}}\n")
    code, out, err = run_cli(["train", "--config", "my.yaml", "--show-config"], capsys)
    folder = yaml.safe_load(out)["run"]["output_dir"]
    assert folder.startswith("runs/my-") and folder != "runs/quickstart"
    code, out, err = run_cli(["train", "--config", "my.yaml", "--show-config", "env.kwargs.max_turns=6"], capsys)
    assert yaml.safe_load(out)["run"]["output_dir"] != folder  # another task, another folder
    code, out, err = run_cli(["train", "--config", "my.yaml", "--show-config", "rl.lr=0.001"], capsys)
    assert yaml.safe_load(out)["run"]["output_dir"] == folder  # same model and task: it resumes there


# ---------------------------------------------------------------------------- bad input
@pytest.fixture
def bad_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = {
        "bad.yaml": "rl: {iterations: 3\n  bad",
        "list.yaml": "- a\n- b\n",
        "empty.txt": "",
        "noplayer.txt": "#####\n#.$ #\n#####\n",
        "nogoal.txt": "#####\n#@$ #\n#####\n",
        "badchar.txt": "######\n#@$Q.#\n######\n",
        "tasks.txt": "this is not JSON\n",
        "tasks-list.jsonl": "[1, 2]\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "folder").mkdir()
    return tmp_path


SOKOBAN = ["eval", "--env", "agentrl/Sokoban-v0", "--episodes", "1"]
TRAIN = ["train", "--show-config"]
TRAIN_RUN = ["train", "run.output_dir=runs/bad", "sft.episodes=0", "rl.iterations=0", "eval.episodes=0"]

#: (argv, a fragment of the one-line message). Every case must exit with code 2 and no traceback.
BAD_INPUTS = [
    (["train", "--config", "bad.yaml"], "is not valid YAML"),
    (["train", "--config", "folder"], "is a folder"),
    (["train", "--config", "missing.yaml"], "not found"),
    (["train", "--config", "no-such-preset"], "unknown preset 'no-such-preset'; presets:"),
    (["train", "--config", "list.yaml"], "must hold a mapping"),
    (TRAIN + ["rl.iterations=-3"], "rl.iterations must be >= 0, got -3"),
    (TRAIN + ["rl.group_size=0"], "rl.group_size must be >= 1, got 0"),
    (TRAIN + ["rl.num_envs=0"], "rl.num_envs must be >= 1, got 0"),
    (TRAIN + ["rl.lr=nan"], "rl.lr must be a finite number"),
    (TRAIN + ["rl.lr=abc"], "cannot read 'abc' as float"),
    (TRAIN + ["run.device=tpu"], "run.device must be one of auto, cpu, cuda, cuda:N"),
    (TRAIN + ["rl.advantage=magic"], "rl.advantage must be one of turn, episode, gae"),
    (TRAIN + ["rl.iterations"], "must look like key=value"),
    (TRAIN + ["rl.iteratons=3"], "Did you mean 'iterations'"),
    (TRAIN + ["policy.top_p=2"], "top_p must be in (0, 1]"),
    (TRAIN + ["policy.engine=vllm"], "policy.engine=vllm needs policy.kind=lm and a model folder"),
    (TRAIN + ["policy.engine=tensorrt"], "policy.engine must be one of hf, vllm"),
    (TRAIN + ["rewards=magic"], "rewards must be a list of stage configs"),
    (TRAIN + ["run.loggers=[tensorboardx]"], "run.loggers must be one of wandb, mlflow"),
    (TRAIN + ["env.kwargs=[1, 2]"], "env.kwargs must be a mapping"),
    (TRAIN + ["env.kwargs={a: [}"], "cannot read '{a: [}' as a YAML value"),
    (TRAIN + ["run.keep_last=-1"], "run.keep_last must be >= 0"),
    (TRAIN_RUN + ["env.kwargs.dim_room=[2,2]"], "dim_room must be [height, width], each at least 3"),
    (TRAIN_RUN + ["env.kwargs.num_boxes=-1"], "num_boxes must be >= 1, got -1"),
    (TRAIN_RUN + ["env.id=agentrl/Nope-v0"], "Unknown environment id 'agentrl/Nope-v0'"),
    (TRAIN_RUN + ["policy.model=./no-such-model"], "could not load model './no-such-model'"),
    (["train", "--import", "no_such_module_anywhere"], "--import no_such_module_anywhere: cannot import it"),
    (SOKOBAN[:-1] + ["-1"], "argument --episodes: must be >= 1, got -1"),
    (SOKOBAN[:-1] + ["many"], "argument --episodes: 'many' is not a whole number"),
    (SOKOBAN + ["--num-envs", "0"], "argument --num-envs: must be >= 1, got 0"),
    (SOKOBAN + ["--seed", "-5"], "argument --seed: must be >= 0, got -5"),
    (SOKOBAN + ["--env-arg", "dim_room=[2,2]"], "dim_room must be [height, width], each at least 3"),
    (SOKOBAN + ["--env-arg", "num_boxes=-1"], "num_boxes must be >= 1"),
    (SOKOBAN + ["--env-arg", "max_turns"], "--env-arg 'max_turns' must look like key=value"),
    (SOKOBAN + ["--env-arg", "levels_file=empty.txt"], "empty.txt: no levels found"),
    (SOKOBAN + ["--env-arg", "levels_file=noplayer.txt"], "expected exactly one player"),
    (SOKOBAN + ["--env-arg", "levels_file=nogoal.txt"], "1 boxes but 0 goals"),
    (SOKOBAN + ["--env-arg", "levels_file=badchar.txt"], "unknown symbol 'Q'"),
    (SOKOBAN + ["--env-arg", "levels_file=folder"], "Is a directory: 'folder'"),
    (SOKOBAN + ["--env-arg", "levels_file=missing.txt"], "No such file or directory: 'missing.txt'"),
    (SOKOBAN + ["--env-arg", "no_such_setting=1"], "unknown key(s) 'no_such_setting'"),
    (SOKOBAN + ["--env-arg", "max_action_chars=0"], "max_action_chars must be >= 1"),
    (SOKOBAN + ["--policy", "magic"], "valid policies: random, expert, solver"),
    (SOKOBAN + ["--policy", "checkpoint:nowhere"], "no agentrl checkpoint at nowhere"),
    (SOKOBAN + ["--policy", "hf:./nowhere"], "could not load model './nowhere'"),
    (SOKOBAN + ["--split", "nope"], "has no evaluation split 'nope'"),
    (SOKOBAN + ["--out", "folder"], "Is a directory"),
    (["eval", "--env", "agentrl/Sokobn-v0"], "Did you mean agentrl/Sokoban-v0"),
    (["eval", "--env", "no_such_module:Env-v0"], "cannot import module 'no_such_module'"),
    (["eval", "--policy", "random"], "give --env ID"),
    (["eval", "--env", "agentrl/SWE-v0", "--env-arg", "task_ids=[nope]"], "unknown task id(s) ['nope']"),
    (["play", "agentrl/Nope-v0"], "Unknown environment id"),
    (["play", "agentrl/Sokoban-v0", "--env-arg", "dim_room=[2,2]"], "dim_room must be"),
    (["play", "agentrl/Sokoban-v0", "--seed", "-1"], "argument --seed: must be >= 0"),
    (["sandbox", "validate", "--tasks", "tasks.txt", "--backend", "local"], "tasks.txt:1: not valid JSON"),
    (["sandbox", "validate", "--tasks", "tasks-list.jsonl", "--backend", "local"], "expected a SWE-bench record"),
    (["sandbox", "validate", "--task-id", "nope", "--backend", "local"], "unknown task id(s) ['nope']"),
    (["bench", "nope"], "unknown benchmark 'nope'"),
    (["plot", "no-such-run"], "no-such-run is not a training run folder"),
    (["export", "no-such-run", "--to", "out"], "no agentrl checkpoint at no-such-run"),
]


@pytest.mark.parametrize("argv,message", BAD_INPUTS, ids=[" ".join(a[-2:]) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_clear_message_and_exit_code_2(argv, message, bad_files, capsys):
    code, out, err = run_cli(argv, capsys)
    assert code == 2, (out, err)
    assert message in err
    assert "Traceback" not in out + err


def test_there_are_at_least_forty_bad_inputs():
    assert len(BAD_INPUTS) >= 40


def test_no_cuda_is_a_clear_error(bad_files, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, out, err = run_cli(TRAIN_RUN + ["run.device=cuda"], capsys)
    assert code == 2 and "no CUDA device is available" in err and "Traceback" not in err


def test_debug_variable_shows_the_traceback(bad_files, monkeypatch):
    monkeypatch.setenv("AGENTRL_DEBUG", "1")
    with pytest.raises(Exception, match="not valid YAML"):
        main(["train", "--config", "bad.yaml"])


def test_bench_writes_results_under_the_current_folder(tmp_path, monkeypatch, capsys):
    """``agentrl bench`` runs a checkout's scripts but writes their JSON under the current folder."""
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    (bench / "_common.py").write_text(Path(__file__).resolve().parents[1].joinpath("benchmarks/_common.py").read_text())
    (bench / "probe.py").write_text("import sys\nfrom _common import write_results\n"
                                    "write_results('probe', {'args': sys.argv[1:]})\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr("agentrl.commands.bench.benchmark_dir", lambda: bench)
    code, out, err = run_cli(["bench", "--results", "out", "probe", "--levels", "3"], capsys)
    assert code == 0, err
    written = json.loads((work / "out" / "probe.json").read_text())
    assert written["args"] == ["--levels", "3"]
    assert not (bench / "results").exists()
