import agentrl
from agentrl.core.policy import ActionOutput, RandomPolicy, ReplayPolicy, ScriptedPolicy
from agentrl.rollout import EpisodeSpec, grouped_specs, run_episodes


def _envs(n, **kwargs):
    return [agentrl.make("agentrl/Sokoban-v0", **kwargs) for _ in range(n)]


def test_results_follow_spec_order_with_fewer_envs_than_episodes():
    specs = grouped_specs([5, 6, 7], group_size=2)
    batch = run_episodes(_envs(2, max_turns=3), RandomPolicy(seed=1), specs)
    assert [t.group_id for t in batch] == ["seed-5", "seed-5", "seed-6", "seed-6", "seed-7", "seed-7"]
    assert [t.info["seed"] for t in batch] == [5, 5, 6, 6, 7, 7]
    assert set(batch.groups()) == {"seed-5", "seed-6", "seed-7"}
    # Same seed, same room: the group shares its first observation.
    assert batch[0].turns[0].observation == batch[1].turns[0].observation


def test_policy_sees_one_batched_call_per_turn_over_live_episodes():
    sizes = []

    class Spy:
        def act(self, inputs):
            sizes.append(len(inputs))
            return [ActionOutput("<answer>Up</answer>") for _ in inputs]

    run_episodes(_envs(4, max_turns=3), Spy(), grouped_specs(range(4), 1))
    assert sizes == [4, 4, 4]


def test_history_and_turn_fields_are_recorded():
    batch = run_episodes(_envs(1, max_turns=2), ReplayPolicy(["<answer>Up</answer>", "bad"]), [EpisodeSpec(seed=0)])
    traj = batch[0]
    assert len(traj.turns) == 2 and traj.turns[1].info["action_valid"] is False
    assert traj.turns[1].truncated and not traj.turns[1].terminated
    assert traj.instructions.startswith("You are solving Sokoban")
    assert traj.info["subgoals"] == ["1 box on goals"]
    assert batch.summary()["invalid_action_rate"] == 0.5


def test_context_exhausted_ends_episode_truncated():
    policy = ScriptedPolicy(lambda x: None if x.history else "<answer>Up</answer>")
    traj = run_episodes(_envs(1), policy, [EpisodeSpec(seed=0)])[0]
    assert len(traj.turns) == 1 and traj.context_truncated and traj.truncated and not traj.success


def test_batch_jsonl_round_trip(tmp_path):
    batch = run_episodes(_envs(2, max_turns=2), RandomPolicy(seed=0), grouped_specs([1, 2], 1))
    path = tmp_path / "b.jsonl"
    batch.save_jsonl(str(path))
    loaded = type(batch).load_jsonl(str(path))
    assert [t.to_dict() for t in loaded] == [t.to_dict() for t in batch]
