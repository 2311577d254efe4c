"""End-to-end behaviour of agentrl.train: outputs, exact resume, and bad input."""

import json
import math

import pytest
import torch

import agentrl
from agentrl.core.config import ConfigError
from agentrl.models.loading import ModelNotFoundError
from agentrl.train.checkpoint import latest_checkpoint, load_checkpoint
from agentrl.train.learner import Learner
from agentrl.train.loop import TrainingDivergedError
from train_configs import tiny_run_config


def small(tmp_path, name="run", **extra):
    return tiny_run_config(tmp_path, name, {"sft": {"steps": 3}, "rl": {"iterations": 3, "tasks_per_iteration": 3, "num_envs": 6},
                            "eval": {"episodes": 4, "every": 3}, "run": {"checkpoint_every": 1, "threads": 1}},
                           **extra)


def test_run_writes_metrics_tensorboard_plot_and_checkpoints(tmp_path):
    result = agentrl.train(small(tmp_path))
    out = result.output_dir
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [0, 1, 2, 3]
    assert "eval/success_rate" in records[0] and "sft/final_loss" in records[0]
    assert {"rollout/success_rate", "learner/entropy", "learner/approx_kl"} <= set(records[1])
    assert "eval/success_rate" in records[3]
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert (out / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert latest_checkpoint(out).name == "iter-000003"
    assert result.initial_success == records[0]["eval/success_rate"]


def _comparable(record):
    return {k: v for k, v in record.items() if not k.startswith(("time/", "throughput/"))}


def test_resume_gives_the_same_next_iteration_metrics(tmp_path):
    full = agentrl.train(small(tmp_path, "full")).metrics
    agentrl.train(small(tmp_path, "resumed", rl={"iterations": 2}))
    resumed = agentrl.train(small(tmp_path, "resumed")).metrics
    assert [r["iteration"] for r in resumed] == [0, 1, 2, 3]  # no duplicated records after resume
    assert _comparable(resumed[3]) == _comparable(full[3])


def test_unknown_config_key_lists_valid_keys(tmp_path):
    with pytest.raises(ConfigError) as info:
        agentrl.train(small(tmp_path), rl={"iteratons": 2})
    assert "iteratons" in str(info.value) and "iterations" in str(info.value) and "Valid keys" in str(info.value)


def test_bad_choice_is_explained(tmp_path):
    with pytest.raises(ConfigError, match="rl.advantage must be one of turn, episode, gae"):
        agentrl.train(small(tmp_path), rl={"advantage": "magic"})


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="could not load model.*config.json"):
        agentrl.train(small(tmp_path), policy={"model": str(tmp_path / "no-such-model")})


def test_nan_loss_stops_with_diagnostic_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    original = Learner.loss
    calls = {"n": 0}

    def poisoned(self, units, targets):
        loss, stats = original(self, units, targets)
        calls["n"] += 1
        return (loss * float("nan"), stats) if calls["n"] > 2 else (loss, stats)

    monkeypatch.setattr(Learner, "loss", poisoned)
    config = small(tmp_path, rl={"minibatch_size": 64})
    with pytest.raises(TrainingDivergedError, match="last good checkpoint"):
        agentrl.train(config)
    out = tmp_path / "run"
    diagnostic = json.loads((out / "diagnostic.json").read_text())
    assert "non-finite loss" in diagnostic["error"]
    good = latest_checkpoint(out)
    assert good.name == "iter-000002"
    state, _ = load_checkpoint(good)
    assert all(torch.isfinite(t).all() for t in state["agent"]["model"].values() if t.is_floating_point())


def test_grid_policy_with_ppo_value_head(tmp_path):
    config = small(tmp_path, env={"kwargs": {"max_turns": 4, "observation_mode": "dict"}},
                   policy={"kind": "grid", "grid_net": "mlp", "grid_hidden": 32},
                   rl={"advantage": "gae", "gamma": 0.95, "epochs": 2})
    result = agentrl.train(config)
    last = result.metrics[-1]
    assert math.isfinite(last["learner/value_loss"]) and last["rollout/episodes"] == 6


def test_grid_policy_needs_dict_observations(tmp_path):
    with pytest.raises(ConfigError, match="observation_mode=dict"):
        agentrl.train(small(tmp_path, policy={"kind": "grid"}))


def test_kl_penalty_uses_a_frozen_reference(tmp_path):
    # an entropy bonus moves the policy even when every advantage is 0
    result = agentrl.train(small(tmp_path, rl={"kl_coef": 0.1, "iterations": 2, "lr": 0.01, "entropy_coef": 0.5}))
    kls = [r["learner/kl"] for r in result.metrics if "learner/kl" in r]
    assert len(kls) == 2 and kls[-1] > 1e-6  # the policy moved away from the reference
    after_sft, _ = load_checkpoint(result.output_dir / "checkpoints" / "iter-000000")
    state, _ = load_checkpoint(latest_checkpoint(result.output_dir))
    reference, model = state["reference"], state["agent"]["model"]
    assert all(torch.equal(reference[k], v) for k, v in after_sft["agent"]["model"].items())  # frozen at SFT
    assert any(not torch.equal(reference[k], v) for k, v in model.items())


def test_lora_trains_only_adapters(tmp_path):
    from agentrl.models import tiny_causal_lm

    result = agentrl.train(small(tmp_path, policy={"lora": {"enabled": True, "r": 4, "alpha": 8}},
                                 sft={"steps": 5}, rl={"iterations": 1}))
    trained, _ = load_checkpoint(result.output_dir / "checkpoints" / "iter-000000")  # after SFT
    weights = trained["agent"]["model"]
    adapters = {k: v for k, v in weights.items() if "lora_B" in k}
    assert adapters and any(v.abs().sum() > 0 for v in adapters.values())  # B starts at zero: SFT moved it
    base = tiny_causal_lm(hidden_size=32, num_layers=1, num_heads=2, seed=0).state_dict()
    frozen = {k.replace("base_model.model.", "").replace(".base_layer", ""): v
              for k, v in weights.items() if "lora_" not in k}
    assert set(base) <= set(frozen)
    assert all(torch.equal(frozen[k], v) for k, v in base.items())


def test_gradient_accumulation_matches_one_large_batch(tmp_path):
    import copy

    import numpy as np

    from agentrl.rollout import grouped_specs, run_episodes
    from agentrl.policies.grid import GridNet
    from agentrl.train.agents import GridAgent
    from agentrl.train.config import RLConfig
    from agentrl.train.advantages import batch_advantages

    # Rooms that need at least 6 moves: no episode ends before its 4-turn limit, so every chunk of the
    # 16 turns has 4 of them and the mean of chunk means equals the mean over all 16.
    envs = [agentrl.make("agentrl/Sokoban-v0", observation_mode="dict", max_turns=4, min_solution_moves=6)
            for _ in range(4)]
    torch.manual_seed(0)
    agent = GridAgent(GridNet((6, 6), 7, 4, kind="mlp", hidden=16), ["Up", "Down", "Left", "Right"])
    batch = run_episodes(envs, agent.policy, grouped_specs([0, 1], 2))  # 4 episodes x 4 turns = 16 units
    credit = batch_advantages(batch, "turn", normalize=True)
    weights = []
    for accumulation in (1, 4):
        clone = copy.deepcopy(agent)
        learner = Learner(clone, RLConfig(minibatch_size=16, grad_accumulation=accumulation, lr=0.01))
        learner.update(batch, credit, seed=0)
        weights.append(torch.cat([p.detach().flatten() for p in clone.parameters()]))
    assert sum(len(t.turns) for t in batch) == 16
    assert torch.allclose(weights[0], weights[1], atol=1e-6)
    assert not np.allclose(weights[0].numpy(), torch.cat([p.detach().flatten() for p in agent.parameters()]).numpy())


def test_checkpoint_policy_replays_the_runs_own_evaluation(tmp_path):
    """``checkpoint:DIR`` (as ``agentrl eval`` takes it) rebuilds the trained agent: greedy, on the
    run's evaluation rooms, it scores exactly what the run's last evaluation recorded."""
    from agentrl.rollout import grouped_specs, run_episodes
    from agentrl.eval.policy_specs import make_policy
    from agentrl.train.rollouts import make_envs
    from agentrl.train.checkpoint import resolve_checkpoint
    from agentrl.train.config import load_config

    config = small(tmp_path, eval={"greedy": True, "episodes": 6})
    result = agentrl.train(config)
    out = result.output_dir
    latest = latest_checkpoint(out)
    for named in (out, out / "checkpoints", out / "checkpoints" / "latest", latest):
        assert resolve_checkpoint(named) == latest
    policy = make_policy(f"checkpoint:{out / 'checkpoints' / 'latest'}")
    state, _ = load_checkpoint(latest)
    for name, tensor in policy.model.state_dict().items():
        assert torch.equal(tensor, state["agent"]["model"][name])
    cfg = load_config(config)
    envs = make_envs(cfg, 3, evaluation=True)
    batch = run_episodes(envs, policy, grouped_specs(range(cfg.eval.seed, cfg.eval.seed + 6), 1))
    assert batch.summary()["success_rate"] == result.metrics[-1]["eval/success_rate"]
    assert batch.summary()["mean_return"] == pytest.approx(result.metrics[-1]["eval/mean_return"])


def test_checkpoint_and_hf_policy_specs_fail_clearly(tmp_path):
    from agentrl.eval.policy_specs import make_policy
    from agentrl.policies.hf import HFPolicy

    with pytest.raises(FileNotFoundError, match="no agentrl checkpoint at .*output folder"):
        make_policy(f"checkpoint:{tmp_path}")
    with pytest.raises(ModelNotFoundError):
        make_policy(f"hf:{tmp_path / 'missing-model'}")
    assert isinstance(make_policy("hf:tiny"), HFPolicy)


def test_demonstrations_do_not_depend_on_how_many_envs_play_them():
    from agentrl.envs.sokoban.expert import SolverPolicy
    from agentrl.train.config import SFTConfig
    from agentrl.train.sft import collect_demonstrations

    config = SFTConfig(episodes=12, relabel_epsilon=0.5)
    one = collect_demonstrations([agentrl.make("agentrl/Sokoban-v0")], SolverPolicy(), config, full_context=False)
    many = collect_demonstrations([agentrl.make("agentrl/Sokoban-v0") for _ in range(5)], SolverPolicy(), config,
                                  full_context=False)
    assert [[t.action for t in d.turns] for d, _ in one] == [[t.action for t in d.turns] for d, _ in many]
    assert [labels for _, labels in one] == [labels for _, labels in many]
    other_seed = collect_demonstrations([agentrl.make("agentrl/Sokoban-v0")], SolverPolicy(), config,
                                        full_context=False, run_seed=1)
    assert [d.task_id for d, _ in other_seed] != [d.task_id for d, _ in one]  # run.seed reaches the demos


def test_sft_demonstrations_of_the_env_expert_do_not_depend_on_the_number_of_envs():
    """The quickstart's rooms with its relabelling noise: the env's own expert (dead positions and
    replanning after a noisy move included) gives the same demonstrations on 1 env and on 16, so
    ``rl.num_envs`` (which sizes the envs SFT plays on) cannot change the SFT policy."""
    from agentrl.train.config import SFTConfig
    from agentrl.train.sft import collect_demonstrations

    kwargs = {"dim_room": [6, 6], "num_boxes": 1, "max_turns": 15, "min_solution_moves": 4}
    config = SFTConfig(episodes=200, relabel_epsilon=0.3)
    played = []
    for count in (1, 16):
        envs = [agentrl.make("agentrl/Sokoban-v0", **kwargs) for _ in range(count)]
        demos = collect_demonstrations(envs, envs[0].unwrapped.expert_policy(), config, full_context=False)
        played.append([([t.action for t in d.turns], labels) for d, labels in demos])
    assert played[0] == played[1]
    assert sum(len(actions) for actions, _ in played[0]) > 1000  # long enough to meet dead positions


def test_best_evaluated_weights_are_kept_beside_the_last(tmp_path):
    """``OUTPUT/best`` holds the weights of the highest held-out success (SFT's included; the earlier on
    ties), and replaying them scores exactly that success."""
    from agentrl.eval.policy_specs import make_policy
    from agentrl.rollout import grouped_specs, run_episodes
    from agentrl.train.checkpoint import read_best
    from agentrl.train.config import load_config
    from agentrl.train.rollouts import make_envs

    config = small(tmp_path, eval={"greedy": True, "episodes": 6, "every": 1},
                   rl={"iterations": 4, "lr": 0.01})
    result = agentrl.train(config)
    scored = [(0, result.metrics[0]["sft/success_rate"])] + [
        (r["iteration"], r["eval/success_rate"]) for r in result.metrics[1:]]
    best_iteration, best_success = max(scored, key=lambda item: (item[1], -item[0]))
    meta = read_best(result.output_dir)
    assert (meta["iteration"], meta["success_rate"]) == (best_iteration, best_success)
    assert (result.best_iteration, result.best_success) == (best_iteration, best_success)
    assert result.sft_success == result.metrics[0]["sft/success_rate"]
    assert result.final_success == result.metrics[-1]["eval/success_rate"]
    policy = make_policy(f"checkpoint:{result.output_dir / 'best'}")
    cfg = load_config(config)
    batch = run_episodes(make_envs(cfg, 3, evaluation=True), policy,
                         grouped_specs(range(cfg.eval.seed, cfg.eval.seed + 6), 1))
    assert batch.summary()["success_rate"] == best_success


def test_rl_learning_rate_warms_up_linearly_then_holds(tmp_path):
    """``rl.warmup_iterations=4``: updates 1..4 step with lr/4, 2lr/4, 3lr/4, lr, then lr; the very
    first update's weight change is a quarter of the unwarmed one (Adam's first step is ~lr * sign)."""
    import copy

    from agentrl.policies.grid import GridNet
    from agentrl.rollout import grouped_specs, run_episodes
    from agentrl.train.advantages import batch_advantages
    from agentrl.train.agents import GridAgent
    from agentrl.train.config import RLConfig

    envs = [agentrl.make("agentrl/Sokoban-v0", observation_mode="dict", max_turns=4) for _ in range(2)]
    torch.manual_seed(0)
    agent = GridAgent(GridNet((6, 6), 7, 4, kind="mlp", hidden=16), ["Up", "Down", "Left", "Right"])
    batch = run_episodes(envs, agent.policy, grouped_specs([0], 2))
    credit = batch_advantages(batch, "turn", normalize=True)
    learner = Learner(copy.deepcopy(agent), RLConfig(lr=0.01, warmup_iterations=4))
    assert [learner.learning_rate(v) for v in range(1, 7)] == pytest.approx([0.0025, 0.005, 0.0075, 0.01, 0.01, 0.01])
    moves = []
    for config in (RLConfig(lr=0.01, warmup_iterations=4, minibatch_size=64), RLConfig(lr=0.01, minibatch_size=64)):
        clone = copy.deepcopy(agent)
        before = torch.cat([p.detach().flatten() for p in clone.parameters()])
        trainer = Learner(clone, config)
        trainer.update(batch, credit, seed=0)
        assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(config.lr / max(1, config.warmup_iterations))
        moves.append((torch.cat([p.detach().flatten() for p in clone.parameters()]) - before).abs().max().item())
    assert moves[0] == pytest.approx(moves[1] / 4, rel=1e-3)
    with pytest.raises(ConfigError, match="warmup_iterations"):
        agentrl.train(small(tmp_path), rl={"warmup_iterations": -1})


def test_informative_groups_only_trains_on_mixed_outcome_groups(tmp_path):
    """``rl.informative_groups_only``: the learner sees exactly the episodes of groups with mixed
    outcomes (counted from the run's own samples), while rollout metrics still count every episode."""
    config = small(tmp_path, env={"kwargs": {"max_turns": 12, "observation_mode": "dict", "dim_room": [5, 5]}},
                   policy={"kind": "grid", "grid_net": "mlp", "grid_hidden": 32},
                   rl={"iterations": 2, "tasks_per_iteration": 8, "group_size": 4, "num_envs": 8,
                       "informative_groups_only": True},
                   run={"checkpoint_every": 1, "threads": 1, "samples": 1000})
    result = agentrl.train(config)
    records = [r for r in result.metrics if r["iteration"] > 0]
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    for record in records:
        assert record["rollout/episodes"] == 32
        mine = [s for s in samples if s["iteration"] == record["iteration"]]
        by_group: dict = {}
        for s in mine:
            by_group.setdefault(s["task_id"], set()).add(s["success"])  # Sokoban: outcome = success
        informative = sum(4 for outcomes in by_group.values() if len(outcomes) > 1)
        assert record["learner/trained_episodes"] == informative
    assert 0 < sum(r["learner/trained_episodes"] for r in records) < 64  # some groups kept, some left out


def test_rl_cosine_schedule_decays_from_the_peak_to_near_zero():
    """``rl.lr_schedule=cosine``: the full rate at the end of the warm-up (or at the first update
    without one), then ``lr * (1 + cos(pi * k / (iterations - peak + 1))) / 2`` for the k-th update
    after it, so the last update of a 30-iteration run with 10 warm-up iterations steps with
    ``lr * (1 + cos(20 pi / 21)) / 2``."""
    from agentrl.train.config import RLConfig

    agent = torch.nn.Linear(1, 1)
    warm = Learner(agent, RLConfig(lr=1.0, iterations=30, warmup_iterations=10, lr_schedule="cosine"))
    rates = [warm.learning_rate(v) for v in range(1, 31)]
    assert rates[:10] == pytest.approx([v / 10 for v in range(1, 11)])
    assert rates[10] == pytest.approx(0.5 * (1 + math.cos(math.pi / 21)))
    assert rates[-1] == pytest.approx(0.5 * (1 + math.cos(20 * math.pi / 21)))
    assert all(a > b for a, b in zip(rates[9:], rates[10:]))  # strictly decreasing after the peak
    cold = Learner(agent, RLConfig(lr=2.0, iterations=4, lr_schedule="cosine"))
    assert [cold.learning_rate(v) for v in range(1, 5)] == pytest.approx([2.0, 1 + math.cos(math.pi / 4),
                                                                          1.0, 1 + math.cos(3 * math.pi / 4)])
    constant = Learner(agent, RLConfig(lr=1.0, iterations=30, warmup_iterations=10))
    assert constant.learning_rate(30) == 1.0
    with pytest.raises(ValueError, match="rl.lr_schedule"):
        RLConfig(lr_schedule="linear")


def test_sft_cosine_schedule_warms_up_then_decays_to_zero():
    """``sft.lr_schedule=cosine`` (the same half-cosine as RL's, per optimizer step): ``(step+1)/W``
    during the warm-up, 1 at its end, 1/2 half-way through the rest, 0 at the last step and after."""
    from agentrl.train.config import SFTConfig
    from agentrl.train.sft import lr_factor

    config = SFTConfig(lr_schedule="cosine", steps=110, warmup_steps=10)
    assert [lr_factor(config, s) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert lr_factor(config, 10) == pytest.approx(1.0)
    assert lr_factor(config, 60) == pytest.approx(0.5)
    assert lr_factor(config, 35) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_factor(config, 110) == pytest.approx(0.0) and lr_factor(config, 500) == pytest.approx(0.0)
    assert lr_factor(SFTConfig(lr_schedule="constant", steps=110, warmup_steps=10), 3) == 1.0
