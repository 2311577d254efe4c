"""What a run tells people: phase lines, progress that suits a log file, timings, sample transcripts
(JSONL and TensorBoard text), and the optional wandb and MLflow trackers in their offline modes."""

import json
import logging
import sys

import pytest

import agentrl
from agentrl.cli import main
from agentrl.core.extras import MissingExtraError
from agentrl.train.console import Progress
from train_configs import tiny_run_config


def small(tmp_path, name="run", **sections):
    return tiny_run_config(tmp_path, name, {"sft": {"steps": 3}, "rl": {"iterations": 2}, "eval": {"episodes": 2, "every": 2},
                            "run": {"tensorboard": False}},
                           **sections)


def overrides(config):
    return [f"{section}.{key}={json.dumps(value) if isinstance(value, dict) else value}"
            for section, values in config.items() for key, value in values.items()]


def test_progress_off_a_terminal_is_plain_periodic_lines(caplog):
    with caplog.at_level(logging.INFO, logger="agentrl.train"):
        with Progress("SFT step", 3, every_s=0.0, bar=False) as progress:
            for loss in (0.9, 0.5, 0.2):
                progress.set_postfix(loss=loss)
                progress.update()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("SFT step 1/3 loss=0.9 [") and lines[1].startswith("SFT step 2/3 loss=0.5 [")
    assert len(lines) == 2 and not any("\r" in line for line in lines)


def test_train_log_has_one_line_per_phase_and_no_bar_noise(tmp_path, capsys):
    """As in a log file (stderr is not a terminal): phase lines, periodic progress lines, no \\r."""
    config = small(tmp_path, run={"progress": True, "log_every_s": 0.0})
    assert main(["train", "--config", "quickstart", "env.kwargs={max_turns: 4}", *overrides(config)]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    for phase in ("start-up: agentrl/Sokoban-v0, lm policy tiny", "starting a new run in",
                  "evaluation at iteration 0: success", "SFT: 8 demonstration episodes", "SFT step 1/3",
                  "RL iteration 1/2", "evaluation at iteration 2", "done: held-out success"):
        assert phase in err, phase
    assert main(["train", "--config", "quickstart", "env.kwargs={max_turns: 4}", *overrides(config),
                 "rl.iterations=3"]) == 0
    err = capsys.readouterr().err
    assert "resuming from iter-000002" in err and "changed since that checkpoint: other: rl.iterations: 2 -> 3" in err


def test_progress_false_still_reports_phases(tmp_path, capsys):
    assert main(["train", "--config", "quickstart", "env.kwargs={max_turns: 4}", *overrides(small(tmp_path))]) == 0
    err = capsys.readouterr().err
    assert "start-up:" in err and "SFT:" in err and "done:" in err and "RL iteration" not in err


def test_timings_and_sample_transcripts(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = agentrl.train(small(tmp_path, run={"tensorboard": True, "samples": 2}))
    first, last = result.metrics[0], result.metrics[-1]
    assert first["time/sft_s"] > 0 and first["time/eval_s"] > 0
    assert last["time/update_s"] > 0 and last["time/rollout_s"] > 0 and last["time/eval_s"] > 0
    samples = [json.loads(line) for line in (result.output_dir / "samples.jsonl").read_text().splitlines()]
    assert [s["iteration"] for s in samples] == [1, 1, 2, 2]
    assert samples[0]["return"] >= samples[1]["return"]  # the best, then the worst of the batch
    turn = samples[0]["turns"][0]
    assert "#" in turn["observation"] and turn["action"] and isinstance(turn["reward"], float)
    events = EventAccumulator(str(result.output_dir / "tensorboard"), size_guidance={"tensors": 0})
    events.Reload()
    texts = events.Tensors("samples/text_summary")
    assert [t.step for t in texts] == [1, 2]
    assert b"iteration 1, task sokoban-" in texts[0].tensor_proto.string_val[0]


def test_resume_keeps_samples_up_to_the_checkpoint(tmp_path):
    agentrl.train(small(tmp_path, rl={"iterations": 1}, run={"samples": 1}))
    result = agentrl.train(small(tmp_path, run={"samples": 1}))
    samples = [json.loads(line) for line in (result.output_dir / "samples.jsonl").read_text().splitlines()]
    assert [s["iteration"] for s in samples] == [1, 2]


def test_wandb_offline(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    result = agentrl.train(small(tmp_path, run={"loggers": ["wandb"]}))
    runs = list((result.output_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    (data,) = runs[0].glob("run-*.wandb")  # wandb's offline record of the run, for `wandb sync`
    assert data.read_bytes().count(b"eval/success_rate") >= 2 and b"learner/entropy" in data.read_bytes()
    transcripts = sorted((runs[0] / "files" / "media" / "html").glob("samples_*.html"))
    assert len(transcripts) == 2 and "iteration 1, task sokoban-" in transcripts[0].read_text()


def test_mlflow_local_store(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"file:{tmp_path / 'mlruns'}")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "agentrl-test")
    result = agentrl.train(small(tmp_path, run={"loggers": ["mlflow"]}))
    client = mlflow.tracking.MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("agentrl-test").experiment_id])
    assert run.data.params["rl.iterations"] == "2" and run.info.run_name == "sokoban-v0"
    history = client.get_metric_history(run.info.run_id, "eval/success_rate")
    assert [m.step for m in history] == [0, 2]
    assert history[-1].value == result.metrics[-1]["eval/success_rate"]
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "samples")]
    assert artifacts == ["samples/iter-000001.txt", "samples/iter-000002.txt"]


def test_missing_tracker_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'agentrl\[trackers\]'"):
        agentrl.train(small(tmp_path, run={"loggers": ["wandb"]}))
