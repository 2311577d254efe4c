"""Resuming safely: the config stored with each checkpoint decides whether a run may continue, a
refused resume changes nothing, a torn metrics line is repaired, checkpoints are fsynced and pruned."""

import json
import logging
import os

import pytest
import yaml

import agentrl
from agentrl.cli import main
from agentrl.eval.policy_specs import make_policy
from agentrl.train.checkpoint import latest_checkpoint, list_checkpoints, read_meta
from agentrl.train.config import load_config
from agentrl.train.resume import ResumeRefusedError
from train_configs import tiny_run_config


def small(tmp_path, name="run", **sections):
    return tiny_run_config(tmp_path, name, {"sft": {"steps": 3}, "rl": {"iterations": 2}, "eval": {"episodes": 4, "every": 1},
                            "run": {"checkpoint_every": 1, "tensorboard": False}},
                           **sections)


@pytest.fixture
def first_run(tmp_path):
    return agentrl.train(small(tmp_path))


def test_each_checkpoint_stores_its_config(first_run):
    meta = read_meta(latest_checkpoint(first_run.output_dir))
    assert meta["iteration"] == 2
    assert load_config(meta["config"]) == first_run.config


def test_a_different_task_in_the_same_folder_is_refused_and_changes_nothing(first_run, tmp_path):
    """The trap: another experiment whose output folder is an existing run's. It must not 'resume'
    (and report the old metrics); the run's files stay as they were."""
    out = first_run.output_dir
    before = {p: p.read_bytes() for p in (out / "config.yaml", out / "metrics.jsonl")}
    other = small(tmp_path, env={"id": "agentrl/Bargaining-v0", "kwargs": {}}, rl={"iterations": 3})
    with pytest.raises(ResumeRefusedError) as info:
        agentrl.train(other)
    message = str(info.value)
    assert "task: env.id: 'agentrl/Sokoban-v0' -> 'agentrl/Bargaining-v0'" in message
    assert "task: env.kwargs: {'max_turns': 4} -> {}" in message
    assert "run.output_dir=runs/NEW" in message and "run.allow_changes=true" in message
    assert {p: p.read_bytes() for p in before} == before
    assert make_policy(f"checkpoint:{out}") is not None  # the run's checkpoints still load


def test_a_different_model_is_refused_even_with_allow_changes(first_run, tmp_path):
    bigger = small(tmp_path, policy={"tiny": {"hidden_size": 64, "num_layers": 1, "num_heads": 2}},
                   run={"allow_changes": True})
    with pytest.raises(ResumeRefusedError) as info:
        agentrl.train(bigger)
    assert "model: policy.tiny.hidden_size: 32 -> 64" in str(info.value)
    assert "weights cannot continue" in str(info.value)
    assert yaml.safe_load((first_run.output_dir / "config.yaml").read_text())["policy"]["tiny"]["hidden_size"] == 32


def test_the_cli_refuses_with_the_differences_and_exit_code_2(first_run, capsys):
    out = first_run.output_dir
    code = main(["train", "--config", str(out / "config.yaml"), "env.kwargs.max_turns=6"])
    err = capsys.readouterr().err
    assert code == 2 and "task: env.kwargs: {'max_turns': 4} -> {'max_turns': 6}" in err and "Traceback" not in err


def test_task_changes_resume_with_allow_changes_and_are_logged(first_run, tmp_path, caplog):
    changed = small(tmp_path, env={"kwargs": {"max_turns": 5}}, rl={"iterations": 3}, run={"allow_changes": True})
    with caplog.at_level(logging.INFO, logger="agentrl.train"):
        result = agentrl.train(changed)
    assert [r["iteration"] for r in result.metrics] == [0, 1, 2, 3]
    assert "resuming from iter-000002" in caplog.text
    assert "changed since that checkpoint: task: env.kwargs: {'max_turns': 4} -> {'max_turns': 5}" in caplog.text
    assert yaml.safe_load((result.output_dir / "config.yaml").read_text())["env"]["kwargs"] == {"max_turns": 5}


def test_other_changes_resume_and_are_logged(first_run, tmp_path, caplog):
    """Extending a run and lowering its learning rate (as the divergence message advises) just work."""
    longer = small(tmp_path, rl={"iterations": 3, "lr": 5e-5})
    with caplog.at_level(logging.INFO, logger="agentrl.train"):
        result = agentrl.train(longer)
    assert [r["iteration"] for r in result.metrics] == [0, 1, 2, 3]
    assert "changed since that checkpoint: other: rl.iterations: 2 -> 3" in caplog.text
    assert "other: rl.lr: 0.0001 -> 5e-05" in caplog.text


def test_the_same_config_resumes_and_says_so(first_run, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="agentrl.train"):
        result = agentrl.train(small(tmp_path))
    assert "resuming from iter-000002 in" in caplog.text and "(same config)" in caplog.text
    assert [r["iteration"] for r in result.metrics] == [0, 1, 2]


def test_a_torn_metrics_line_is_repaired_on_resume(first_run, tmp_path, caplog):
    """A run killed mid-write leaves half a JSON line; the resume drops it and continues."""
    path = first_run.output_dir / "metrics.jsonl"
    with path.open("a") as handle:
        handle.write('{"iteration": 3, "rollout/succ')
    with caplog.at_level(logging.WARNING, logger="agentrl.train"):
        result = agentrl.train(small(tmp_path, rl={"iterations": 3}))
    assert "unreadable line" in caplog.text
    lines = path.read_text().splitlines()
    assert [json.loads(line)["iteration"] for line in lines] == [0, 1, 2, 3]
    assert [r["iteration"] for r in result.metrics] == [0, 1, 2, 3]


def test_checkpoint_files_and_folders_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real(fd))
    agentrl.train(small(tmp_path, rl={"iterations": 0}))
    names = {os.path.basename(path) for path in synced}
    assert {"state.pt", "meta.json", "latest.tmp", "checkpoints"} <= names
    assert any(name.startswith(".tmp-iter-") for name in names)  # the new folder before its rename


def test_keep_last_prunes_old_checkpoints(tmp_path):
    result = agentrl.train(small(tmp_path, rl={"iterations": 4}, run={"keep_last": 2}))
    root = result.output_dir / "checkpoints"
    assert [p.name for p in list_checkpoints(root)] == ["iter-000003", "iter-000004"]
    assert latest_checkpoint(result.output_dir).name == "iter-000004"


def test_resume_false_starts_over(first_run, tmp_path):
    result = agentrl.train(small(tmp_path, rl={"iterations": 1}, run={"resume": False}))
    assert [r["iteration"] for r in result.metrics] == [0, 1]
