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
from agentrl.rewards.monitors import pearson
from agentrl.rewards.presets import envs_with_presets

#: Every registered env that ships a reward preset (the registry is the one list of envs).
ENV_IDS = envs_with_presets()


def full_pipeline(model=None) -> RewardPipeline:
    stages = [
        GatedRewardAccumulation(priorities={"outcome": 1}, thresholds={"outcome": 1.0}),
        CALMCredit(judge=OracleJudge(), beta=0.3),
        AutoDiscountSchedule(horizon=12, alpha=0.5),
        RewardHackingMonitor(immediate_components=["format"]),
    ]
    if model is not None:
        stages.insert(1, ImplicitPRM(model=model, beta=0.1))
    return RewardPipeline(stages)


def test_config_round_trips_through_json():
    pipeline = full_pipeline()
    config = json.loads(json.dumps(pipeline.to_config()))
    assert [c["type"] for c in config] == [
        "GatedRewardAccumulation",
        "CALMCredit",
        "AutoDiscountSchedule",
        "RewardHackingMonitor",
    ]
    assert config[1]["judge"] == {"type": "OracleJudge"}
    rebuilt = RewardPipeline.from_config({"stages": config})
    assert rebuilt.to_config() == pipeline.to_config()
    assert isinstance(rebuilt[1].judge, OracleJudge)


def test_model_objects_become_references_supplied_at_load_time():
    model = UnigramLM(4)
    config = full_pipeline(model).to_config()
    assert config[1]["model"] == "@ImplicitPRM.model"
    with pytest.raises(ConfigError, match="objects="):
        RewardPipeline.from_config(config)
    rebuilt = RewardPipeline.from_config(config, objects={"ImplicitPRM.model": model})
    assert rebuilt[1].model is model
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
    assert swe[0].config.priorities == {"outcome": 1}
    assert swe[-1].config.immediate_components == ["format", "tool_success", "modification", "tests_run"]
    sokoban = RewardPipeline.preset("agentrl/Sokoban-v0", prm=UnigramLM(4))
    assert [type(s).__name__ for s in sokoban] == [
        "GatedRewardAccumulation",
        "ImplicitPRM",
        "CALMCredit",
        "AutoDiscountSchedule",
        "RewardHackingMonitor",
    ]
    assert sokoban[-1].config.immediate_components == ["step", "box", "format"]


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
        "monitor/success_rate",
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
    return TrajectoryBatch(trajectory([{"format": p}], success=s) for p, s in zip(proxies, successes))


def test_monitor_reports_correlation_and_leaves_undefined_ones_out():
    monitor = RewardHackingMonitor(immediate_components=["format"])
    batch = monitor(monitor_batch([1.0, 2.0, 3.0, 4.0], [False, False, True, True]))
    assert batch.metrics["monitor/immediate_corr"] == pytest.approx(0.894427191)
    assert batch.metrics["monitor/immediate_mean"] == 2.5 and batch.metrics["monitor/success_rate"] == 0.5
    flat = monitor(monitor_batch([1.0, 2.0], [True, True]))
    assert (
        "monitor/immediate_corr" not in flat.metrics and flat.metrics["monitor/immediate_corr_defined"] == 0.0
    )


def test_monitor_warns_when_a_proxy_rises_while_success_falls():
    monitor = RewardHackingMonitor(immediate_components=["format"], window=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning on the way up together
        for level in range(3):
            batch = monitor(monitor_batch([level, level + 1.0], [level >= 1, level >= 0]))
    assert batch.metrics["monitor/immediate_alert"] == 0.0
    monitor = RewardHackingMonitor(immediate_components=["format"], window=3)
    batches = [monitor_batch([level, level + 1.0], [level < 2, level < 1]) for level in range(3)]
    monitor(batches[0])
    monitor(batches[1])
    with pytest.warns(RewardHackingWarning, match="immediate"):
        last = monitor(batches[2])
    assert last.metrics["monitor/immediate_alert"] == 1.0
    restored = RewardHackingMonitor(immediate_components=["format"], window=3)
    restored.load_state_dict(copy.deepcopy(monitor.state_dict()))
    assert restored.state_dict() == monitor.state_dict()
