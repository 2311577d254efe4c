import io
import json
import sys

import pytest

import agentrl
from agentrl.cli import build_parser, main

VERBS = ["envs", "play", "eval", "train", "router-eval", "sandbox", "bench"]


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


def test_eval_prints_summary_and_writes_json(tmp_path, capsys):
    path = tmp_path / "solver.json"
    assert main(["eval", "--env", "agentrl/Sokoban-v0", "--policy", "solver", "--episodes", "6",
                 "--out", str(path)]) == 0
    result = json.loads(path.read_text())
    assert result["summary"]["success_rate"] == 1.0 and len(result["episodes"]) == 6
    assert "100.0%" in capsys.readouterr().out


def test_unknown_env_is_a_clear_error_not_a_traceback(capsys):
    assert main(["eval", "--env", "agentrl/Sokobn-v0"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean agentrl/Sokoban-v0" in err


def test_unknown_policy_lists_choices(capsys):
    assert main(["eval", "--env", "agentrl/Sokoban-v0", "--policy", "magic", "--episodes", "1"]) == 2
    assert "valid policies: random, expert, solver" in capsys.readouterr().err


def test_train_show_config_and_bad_override(capsys):
    assert main(["train", "--show-config", "rl.iterations=3"]) == 0
    assert "iterations: 3" in capsys.readouterr().out
    assert main(["train", "--show-config", "rl.iteratons=3"]) == 2
    assert "Did you mean 'iterations'" in capsys.readouterr().err
