"""Self-play training smoke test on the bargaining game, through ``agentrl.train``'s trainer.

A tiny LM imitates the scripted negotiator on the single-agent view (SFT), then trains by self-play:
both seats of every game are the learner's policy, and both seats' trajectories reach the learner.
Evaluation runs on the single-agent view against the scripted opponent.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pettingzoo")
import torch  # noqa: E402

import agentrl  # noqa: E402
from agentrl.rollout import grouped_specs  # noqa: E402
from agentrl.envs.multiagent import bargaining  # noqa: E402
from agentrl.rollout.selfplay import SelfPlayBackend  # noqa: E402

loop = pytest.importorskip("agentrl.train.loop")
from agentrl.train.checkpoint import load_checkpoint  # noqa: E402
from agentrl.train.config import load_config  # noqa: E402

SOLO = "agentrl/Bargaining-v0"


def selfplay_config(output_dir) -> dict:
    return {
        "env": {"id": SOLO, "kwargs": {"max_turns": 3, "short_expert": True}},
        "policy": {
            "model": "tiny",
            "tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2},
            "context": "last",
            "max_new_tokens": 16,
            "system_prompt": False,
        },
        "sft": {"episodes": 32, "steps": 60, "batch_size": 16, "lr": 0.01},
        "rl": {
            "iterations": 2,
            "tasks_per_iteration": 4,
            "group_size": 2,
            "num_envs": 4,
            "minibatch_size": 64,
        },
        "eval": {"episodes": 4, "every": 2},
        "rollout": {"backend": "selfplay",
                    "selfplay": {"env": "agentrl.envs.multiagent.bargaining:raw_env", "kwargs": {"max_turns": 6}}},
        "run": {
            "output_dir": str(output_dir),
            "progress": False,
            "tensorboard": False,
            "resume": False,
            "checkpoint_every": 1,
        },
    }


@pytest.mark.slow
def test_selfplay_training_runs_and_updates_the_policy_from_both_seats(tmp_path):
    agentrl.register(SOLO, "agentrl.envs.multiagent.bargaining.solo:BargainingSoloEnv")
    trainer = loop.Trainer(load_config(selfplay_config(tmp_path), {}))
    assert isinstance(trainer.rollout, SelfPlayBackend)
    seen = []
    play = trainer.rollout.run_episodes

    def recording(policy, specs, **kwargs):
        seen.append(play(policy, specs, **kwargs))
        return seen[-1]

    trainer.rollout.run_episodes = recording
    result = trainer.run()

    # every game gave the learner both seats, with exact token records to train on
    assert len(seen) == 2
    for batch in seen:
        assert len(batch) == 2 * 4 * 2  # tasks x group x seats
        assert {t.info["agent"] for t in batch} == {"player_0", "player_1"}
        assert {t.group_id.split("/")[1] for t in batch} == {"player_0", "player_1"}
        turns = [turn for t in batch for turn in t.turns]
        assert turns and all(
            sum(turn.loss_mask) > 0 and len(turn.logprobs) == len(turn.token_ids) for turn in turns
        )
    rl = [r for r in result.metrics if r.get("iteration", 0) >= 1]
    assert [r["iteration"] for r in rl] == [1, 2]
    assert all(r["rollout/episodes"] == 16 for r in rl)
    assert all(f"rewards/selfplay/mean_outcome/{seat}" in r for r in rl for seat in ("player_0", "player_1"))
    assert "eval/success_rate" in rl[-1]  # evaluated against the scripted opponent
    # self-play outcomes differ within groups (some valid deals, some not), so the update is not a no-op
    assert any(r["learner/grad_norm"] > 0 for r in rl)
    after_sft, _ = load_checkpoint(tmp_path / "checkpoints" / "iter-000000")
    final, meta = load_checkpoint(result.checkpoint)
    assert meta["iteration"] == 2
    changed = [
        name
        for name, weight in final["agent"]["model"].items()
        if not torch.equal(weight, after_sft["agent"]["model"][name])
    ]
    assert changed, "self-play RL left every weight as SFT made it"


def test_selfplay_backend_keeps_opponent_seats_out_of_the_batch():
    backend = SelfPlayBackend(
        lambda: bargaining.raw_env(),
        num_envs=2,
        opponents={"player_1": bargaining.TimeDependentNegotiator("boulware")},
    )
    batch = backend.run_episodes(bargaining.TimeDependentNegotiator("conceder"), grouped_specs(range(3), 2))
    assert [t.info["agent"] for t in batch] == ["player_0"] * 6
    assert batch.metrics["selfplay/mean_outcome/player_1"] > 0  # the opponent played, and is reported
    assert backend.metrics == {"selfplay/games": 6, "selfplay/trajectories": 6}
    with pytest.raises(KeyError, match="player_0, player_1"):
        SelfPlayBackend(
            lambda: bargaining.raw_env(), opponents={"dealer": bargaining.TimeDependentNegotiator()}
        )
