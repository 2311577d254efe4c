"""benchmarks/ablations.py's shared warm start: which arms may share one SFT, and the folder an arm
resumes from (the ablation runs themselves take minutes; their figures are in docs/rewards.md)."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from agentrl.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "ablations.py"


@pytest.fixture(scope="module")
def ablations():
    spec = importlib.util.spec_from_file_location("ablations_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_arms_differing_in_rl_and_rewards_share_a_warm_start(ablations):
    base = ablations.lm_run(ablations.OUTCOME_ONLY_LM, 10)
    other = ablations.merge(base, {"rl": {"lr": 0.5}, "rewards": [{"type": "ImplicitPRM", "model": "@policy"}]})
    ablations.check_shared_sft({"a": base, "b": other})  # no error


@pytest.mark.parametrize("change", [{"sft": {"steps": 1}}, {"env": {"kwargs": {"num_boxes": 2}}},
                                    {"policy": {"max_new_tokens": 9}}])
def test_arms_differing_elsewhere_are_refused(ablations, change):
    base = ablations.lm_run(ablations.OUTCOME_ONLY_LM, 10)
    with pytest.raises(ValueError, match="'b' differs from 'a'"):
        ablations.check_shared_sft({"a": base, "b": ablations.merge(base, change)})


def test_every_shared_sft_ablation_has_compatible_arms(ablations):
    specs = ablations.ablations(quick=False)
    shared = [name for name, spec in specs.items() if spec.get("shared_sft")]
    assert "oprl" in shared
    for name in shared:
        ablations.check_shared_sft(specs[name]["arms"])


def test_start_from_gives_the_arm_the_warm_checkpoint_and_metrics(ablations, tmp_path):
    warm, arm = tmp_path / "sft", tmp_path / "arm"
    weights = {"agent": {"w": torch.arange(3.0)}}
    save_checkpoint(warm, 0, weights, {"config": {"marker": 1}})
    (warm / "metrics.jsonl").write_text(json.dumps({"iteration": 0, "sft/success_rate": 0.6}) + "\n")
    ablations.start_from(warm, arm)
    copied = latest_checkpoint(arm)
    assert copied is not None and copied.parent == arm / "checkpoints" and copied.name == "iter-000000"
    state, meta = load_checkpoint(copied)
    assert torch.equal(state["agent"]["w"], torch.arange(3.0)) and meta["config"] == {"marker": 1}
    assert json.loads((arm / "metrics.jsonl").read_text())["sft/success_rate"] == 0.6
    assert latest_checkpoint(warm) == warm / "checkpoints" / "iter-000000"  # the warm start is left as it was


def test_start_from_without_a_checkpoint_says_so(ablations, tmp_path):
    (tmp_path / "sft").mkdir()
    with pytest.raises(RuntimeError, match="left no checkpoint"):
        ablations.start_from(tmp_path / "sft", tmp_path / "arm")
