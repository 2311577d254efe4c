"""Data parallelism: two CPU processes (gloo) launched by torchrun train one model in lockstep."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from agentrl.train.loop import combine_summaries
from agentrl.train.parallel import SingleProcess

SCRIPT = textwrap.dedent('''
    import hashlib, os, sys, torch
    from agentrl.train.config import load_config
    from agentrl.train.loop import Trainer
    out = sys.argv[1]
    config = load_config(None, {
        "env": {"kwargs": {"max_turns": 3}},
        "policy": {"tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2}, "context": "last",
                   "system_prompt": False, "max_new_tokens": 4},
        "sft": {"episodes": 8, "steps": 3, "batch_size": 4},
        "rl": {"iterations": 2, "tasks_per_iteration": 4, "group_size": 2, "num_envs": 4, "minibatch_size": 4},
        "eval": {"episodes": 4, "every": 2},
        "run": {"output_dir": out, "progress": False, "tensorboard": False, "threads": 1, "device": "cpu"},
        "rewards": [{"type": "AutoDiscountSchedule", "horizon": 3, "measure_on": "training",
                     "progress_source": "progress"}, {"type": "RewardHackingMonitor"}],
    })
    trainer = Trainer(config)
    trainer.run()
    digest = hashlib.sha256()
    for name, tensor in sorted(trainer.agent.model.state_dict().items()):
        digest.update(tensor.detach().cpu().numpy().tobytes())
    rank = int(os.environ["RANK"])
    open(os.path.join(out, f"weights-rank{rank}.sha256"), "w").write(digest.hexdigest())
    import json
    open(os.path.join(out, f"pipeline-rank{rank}.json"), "w").write(json.dumps(trainer.pipeline.state_dict()))
''')


@pytest.mark.slow
def test_two_gloo_processes_stay_in_lockstep(tmp_path):
    script = tmp_path / "dp_train.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(script), str(out)]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    hashes = [(out / f"weights-rank{r}.sha256").read_text() for r in (0, 1)]
    assert hashes[0] == hashes[1]
    # the reward pipeline ran on the whole iteration's batch on both ranks: identical adaptive state
    states = [json.loads((out / f"pipeline-rank{r}.json").read_text()) for r in (0, 1)]
    assert states[0] == states[1] and len(states[0]["stages"][1]["state"]["base"]["true"]) == 8
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [0, 1, 2]
    assert records[1]["rollout/episodes"] == 8  # 4 tasks x 2 samples, split over the two ranks
    assert (out / "checkpoints" / "latest").exists()


def test_single_process_is_a_no_op_and_summaries_merge_by_episodes():
    single = SingleProcess()
    assert single.shard([1, 2, 3]) == [1, 2, 3] and single.max(4) == 4 and single.gather("x") == ["x"]
    merged = combine_summaries([{"episodes": 2, "success_rate": 1.0}, {"episodes": 6, "success_rate": 0.0}])
    assert merged == {"episodes": 8, "success_rate": 0.25}


def test_more_ranks_than_gpus_is_a_clear_error(monkeypatch):
    import torch

    from agentrl.train.parallel import local_device

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(RuntimeError, match=r"nproc_per_node 1.*run.device=cpu"):
        local_device(torch.device("cuda"))
    assert local_device(torch.device("cpu")) == torch.device("cpu")
