"""RewardPipeline: config round trips, presets, state, metrics; the reward-hacking monitor."""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pytest
from reward_helpers import UnigramLM, trajectory

from agentrl.core.config import ConfigError
from agentrl.core.trajectory import TrajectoryBatch
from agentrl.rewards import (
    AutoDiscountSchedule,
    CALMCredit,
    GatedRewardAccumulation,
    ImplicitPRM,
    OracleJudge,
    RewardHackingMonitor,
    RewardHackingWarning,
    RewardPipeline,
    RewardStage,
    register_stage,
)
from agentrl.rewards.base import TrainingContext
from agentrl.rewards.monitors import pearson
from agentrl.rewards.presets import envs_with_presets

#: Every registered env that ships a reward preset (the registry is the one list of envs).
ENV_IDS = envs_with_presets()


def full_pipeline(model=None) -> RewardPipeline:
    stages = [
        CALMCredit(judge=OracleJudge(), beta=0.3),
        GatedRewardAccumulation(priorities={"outcome": 1}, thresholds={"outcome": 1.0}),
        AutoDiscountSchedule(horizon=12, alpha=0.5, measure_on="training"),
        RewardHackingMonitor(immediate_components=["format"]),
    ]
    if model is not None:
        stages.insert(2, ImplicitPRM(model=model, beta=0.1))
    return RewardPipeline(stages)


def test_config_round_trips_through_json():
    pipeline = full_pipeline()
    config = json.loads(json.dumps(pipeline.to_config()))
    assert [c["type"] for c in config] == [
        "CALMCredit",
        "GatedRewardAccumulation",
        "AutoDiscountSchedule",
        "RewardHackingMonitor",
    ]
    assert config[0]["judge"] == {"type": "OracleJudge"}
    rebuilt = RewardPipeline.from_config({"stages": config})
    assert rebuilt.to_config() == pipeline.to_config()
    assert isinstance(rebuilt[0].judge, OracleJudge)


def test_model_objects_become_references_supplied_at_load_time():
    model = UnigramLM(4)
    config = full_pipeline(model).to_config()
    assert config[2]["model"] == "@ImplicitPRM.model"
    with pytest.raises(ConfigError, match="objects="):
        RewardPipeline.from_config(config)
    rebuilt = RewardPipeline.from_config(config, objects={"ImplicitPRM.model": model})
    assert rebuilt[2].model is model
    policy_copy = RewardPipeline.from_config([{"type": "ImplicitPRM", "model": "@policy"}])
    assert policy_copy[0].config.model == "@policy"  # filled by a trainer at setup, not an object reference
    named = RewardPipeline([ImplicitPRM(model="tiny")]).to_config()
    assert RewardPipeline.from_config(named).to_config() == named


def test_unknown_stage_type_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="AutoDiscountSchedule, CALMCredit, GatedRewardAccumulation"):
        RewardPipeline.from_config([{"type": "ShapedReward"}])


def test_unknown_stage_key_lists_the_valid_keys():
    with pytest.raises(ConfigError, match="beta"):
        RewardPipeline.from_config([{"type": "CALMCredit", "betta": 1.0}])


def test_register_stage_makes_custom_stages_configurable(monkeypatch):
    from dataclasses import dataclass

    from agentrl.rewards import stages as stages_module

    monkeypatch.setattr(stages_module, "STAGES", dict(stages_module.STAGES))  # keep the registry clean

    @dataclass
    class BonusConfig:
        bonus: float = 1.0
        """Added to every turn's reward."""

    @register_stage
    class Bonus(RewardStage):
        Config = BonusConfig
        metric_prefix = "bonus"

        def __call__(self, batch):
            for turn in batch.turns():
                turn.fields["reward"] = turn.fields.get("reward", turn.reward) + self.config.bonus
            return batch

    pipeline = RewardPipeline.from_config([{"type": "Bonus", "bonus": 2.0}])
    batch = pipeline(TrajectoryBatch([trajectory([{"x": 1.0}])]))
    assert batch[0].turns[0].fields["reward"] == 3.0 and "pipeline/bonus_ms" in batch.metrics


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_env_has_a_preset_that_round_trips(env_id):
    pipeline = RewardPipeline.preset(env_id)
    assert len(pipeline) >= 1
    assert isinstance(pipeline[-1], RewardHackingMonitor)
    assert RewardPipeline.from_config(pipeline.to_config()).to_config() == pipeline.to_config()


def test_presets_follow_the_component_contracts():
    assert {"agentrl/Sokoban-v0", "agentrl/SWE-v0", "agentrl/MiniHack-v0", "agentrl/WebShop-v0",
            "agentrl/Router-v0"} <= set(ENV_IDS)
    swe = RewardPipeline.preset("SWE-v0")  # short ids are qualified
    assert isinstance(swe[0], GatedRewardAccumulation) and "outcome" in swe[0].config.thresholds
    sokoban = RewardPipeline.preset("agentrl/Sokoban-v0", prm=UnigramLM(4), horizon=15)
    assert [type(s).__name__ for s in sokoban] == [
        "CALMCredit",
        "GatedRewardAccumulation",
        "ImplicitPRM",
        "AutoDiscountSchedule",
        "RewardHackingMonitor",
    ]
    assert sokoban[-1].config.true_components == ["finished"] and sokoban[3].horizon == 15


def test_a_reward_added_after_the_gate_is_refused():
    calm = CALMCredit(judge=OracleJudge())
    with pytest.raises(ConfigError, match="put it before the gate"):
        RewardPipeline([GatedRewardAccumulation(priorities={"outcome": 1}, thresholds={"outcome": 1.0}), calm])
    with pytest.raises(ConfigError, match="auxiliary"):
        RewardPipeline([calm, GatedRewardAccumulation(priorities={"outcome": 1}, thresholds={"outcome": 1.0},
                                                       auxiliary=[])])
    RewardPipeline([calm, GatedRewardAccumulation(priorities={"outcome": 1}, thresholds={"outcome": 1.0})])


def test_calm_credit_passes_through_the_gate():
    """A failed episode that achieved subgoals earns nothing from CALM once G-RA gates it."""
    failed = trajectory([{"step": -0.1}, {"step": -0.1, "outcome": 0.0}], success=False)
    solved = trajectory([{"step": -0.1}, {"step": -0.1, "outcome": 1.0}], success=True)
    for traj in (failed, solved):
        traj.info["subgoals"] = ["key"]
        traj.turns[0].info["subgoals"] = {"key": True}
    pipeline = RewardPipeline([CALMCredit(judge=OracleJudge(), beta=0.5),
                               GatedRewardAccumulation(priorities={"outcome": 1}, thresholds={"outcome": 1.0})])
    batch = pipeline(TrajectoryBatch([failed, solved]))
    assert [t.fields["calm"] for t in batch[0].turns] == [0.5, 0.0]
    assert sum(t.fields["reward"] for t in batch[0].turns) == 0.0  # neither the step costs nor CALM
    assert sum(t.fields["reward"] for t in batch[1].turns) == pytest.approx(1.0 - 0.2 + 0.5)


def test_unknown_preset_lists_the_presets():
    with pytest.raises(ConfigError, match="agentrl/Sokoban-v0"):
        RewardPipeline.preset("agentrl/Chess-v0")


def test_pipeline_records_stage_metrics_and_keeps_raw_rewards():
    batch = TrajectoryBatch(
        [
            trajectory([{"format": 0.0}, {"format": -0.1, "outcome": 1.0}], success=True),
            trajectory([{"format": -0.1}, {"format": 0.0, "outcome": 0.0}], success=False),
        ]
    )
    for traj in batch:
        traj.info["subgoals"] = []
    before = [(t.reward, copy.deepcopy(t.reward_components)) for t in batch.turns()]
    full_pipeline()(batch)
    assert [(t.reward, t.reward_components) for t in batch.turns()] == before
    for key in (
        "gra/gate_open_rate",
        "calm/decompose_errors",
        "ads/gamma",
        "monitor/true_return",
        "pipeline/gra_ms",
        "pipeline/calm_ms",
        "pipeline/ads_ms",
        "pipeline/monitor_ms",
    ):
        assert key in batch.metrics, key
    for turn in batch.turns():
        assert {"gra", "dra", "reward", "calm", "gamma"} <= set(turn.fields)


def test_state_dict_gathers_stage_state_and_checks_the_layout():
    pipeline = full_pipeline()
    pipeline(TrajectoryBatch([trajectory([{"format": 0.0}] * 3, success=True)]))
    state = copy.deepcopy(pipeline.state_dict())
    assert state["stages"][2]["state"] == {"horizon": 12, "progress": pipeline[2].progress, "updates": 1}
    assert "base" in state["stages"][3]["state"]  # the monitor's base-policy reference
    fresh = full_pipeline()
    fresh.load_state_dict(state)
    assert fresh[2].state_dict() == pipeline[2].state_dict()
    with pytest.raises(ValueError, match="saved pipeline state"):
        RewardPipeline([GatedRewardAccumulation()]).load_state_dict(state)


# ------------------------------------------------------------------------------ monitor
def test_pearson_by_hand():
    # x - 2.5 = [-1.5, -.5, .5, 1.5], y - .5 = [-.5, -.5, .5, .5]: cov 2, |x| sqrt(5), |y| 1
    assert pearson(np.array([1.0, 2, 3, 4]), np.array([0.0, 0, 1, 1])) == pytest.approx(2 / np.sqrt(5))
    assert pearson(np.array([1.0, 2]), np.array([1.0, 1.0])) is None


def monitor_batch(proxies, successes):
    return TrajectoryBatch(trajectory([{"format": p, "finished": float(s)}], success=s)
                           for p, s in zip(proxies, successes))


def test_monitor_reports_correlation_against_the_base_and_leaves_undefined_ones_out():
    monitor = RewardHackingMonitor(true_components=["finished"])
    base = monitor_batch([1.0, 2.0, 3.0, 4.0], [False, False, True, True])
    monitor.setup(TrainingContext(base_policy_episodes=lambda: base))
    batch = monitor(monitor_batch([1.0, 2.0, 3.0, 4.0], [False, False, True, True]))
    # the outcome component is not part of the proxy: corr of [1, 2, 3, 4] with [0, 0, 1, 1]
    assert batch.metrics["monitor/immediate_corr"] == pytest.approx(0.894427191)
    assert batch.metrics["monitor/immediate_base_corr"] == pytest.approx(0.894427191)
    assert batch.metrics["monitor/immediate_corr_drop"] == pytest.approx(0.0)
    assert batch.metrics["monitor/immediate_mean"] == 2.5 and batch.metrics["monitor/true_return"] == 0.5
    flat = monitor(monitor_batch([1.0, 2.0], [True, True]))
    assert "monitor/immediate_corr" not in flat.metrics and flat.metrics["monitor/immediate_corr_defined"] == 0.0


def hacked(n, rng):
    """A policy that farms the proxy: it rises while success falls and no longer tracks it."""
    proxy = rng.normal(5.0, 1.0, size=n)
    return monitor_batch(proxy.tolist(), (rng.random(n) < 0.2).tolist())


def honest(n, rng):
    """The base policy: the proxy tracks success."""
    success = rng.random(n) < 0.5
    return monitor_batch((success * 2.0 + rng.normal(0.0, 0.5, size=n)).tolist(), success.tolist())


def test_monitor_alerts_only_when_proxy_rises_while_correlation_and_true_return_fall():
    rng = np.random.default_rng(0)
    base = honest(128, rng)
    monitor = RewardHackingMonitor(true_components=["finished"])
    monitor.setup(TrainingContext(base_policy_episodes=lambda: base))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same policy again: within the bootstrapped noise
        same = monitor(honest(128, rng))
    assert same.metrics["monitor/immediate_alert"] == 0.0
    assert same.metrics["monitor/immediate_corr_drop"] < same.metrics["monitor/immediate_corr_tolerance"]
    with pytest.warns(RewardHackingWarning, match="immediate"):
        farmed = monitor(hacked(128, rng))
    assert farmed.metrics["monitor/immediate_alert"] == 1.0
    better = monitor(monitor_batch([2.0] * 64 + [0.0] * 64, [True] * 64 + [False] * 64))  # more success
    assert better.metrics["monitor/immediate_alert"] == 0.0
    restored = RewardHackingMonitor(true_components=["finished"])
    restored.load_state_dict(copy.deepcopy(monitor.state_dict()))
    assert restored.state_dict() == monitor.state_dict()


def test_without_a_trainer_the_first_batch_is_the_base():
    rng = np.random.default_rng(1)
    monitor = RewardHackingMonitor(true_components=["finished"])
    first = monitor(honest(64, rng))
    assert first.metrics["monitor/immediate_corr_drop"] == pytest.approx(0.0)
    assert monitor.base is not None and len(monitor.base.true) == 64
