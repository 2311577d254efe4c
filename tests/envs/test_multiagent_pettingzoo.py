"""PettingZoo both ways: PettingZoo's own conformance tests on the bargaining env and its adapters,
and agentrl policies playing PettingZoo envs with PettingZoo's reward semantics for ``last()``."""

from __future__ import annotations

import warnings
from collections import defaultdict

import pytest

pytest.importorskip("pettingzoo")
from pettingzoo.test import api_test, parallel_api_test  # noqa: E402
from pettingzoo.utils.conversions import parallel_to_aec  # noqa: E402

from agentrl.core.policy import ActionOutput, RandomPolicy, ReplayPolicy, ScriptedPolicy  # noqa: E402
from agentrl.rollout import EpisodeSpec, grouped_specs  # noqa: E402
from agentrl.envs.multiagent import bargaining, to_aec, to_parallel  # noqa: E402
from agentrl.envs.multiagent.bargaining import Scenario, TimeDependentNegotiator  # noqa: E402
from agentrl.rollout.multiagent import MultiAgentRolloutConfig, as_aec, run_multiagent_episodes  # noqa: E402
from agentrl.envs.multiagent.text_io import AgentIO  # noqa: E402

SCENARIO = Scenario(("book", "hat", "ball"), (3, 1, 2), ((1, 5, 1), (2, 2, 1)))
VARIANTS = [{}, {"reward": "judge", "judge": "oracle"}, {"max_turns": 4, "message_tag": None}]


def seeded(env, seed=0):
    for agent in env.possible_agents:
        env.action_space(agent).seed(seed)
    return env


def answer(move: str) -> str:
    return f"<answer>{move}</answer>"


# --------------------------------------------------------------------- conformance
@pytest.mark.parametrize("kwargs", VARIANTS)
def test_pettingzoo_api_test_passes_on_the_aec_view(kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # advisory warnings about non-Box spaces
        for seed in range(3):
            api_test(seeded(bargaining.env(**kwargs), seed), num_cycles=200)


@pytest.mark.parametrize("kwargs", VARIANTS)
def test_pettingzoo_parallel_api_test_passes_on_the_parallel_view(kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(3):
            parallel_api_test(seeded(bargaining.parallel_env(**kwargs), seed), num_cycles=200)


def test_pettingzoo_api_test_passes_on_the_generic_adapters():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api_test(seeded(to_aec(bargaining.raw_env(observation_mode="dict"))), num_cycles=200)
        parallel_api_test(seeded(to_parallel(bargaining.raw_env(observation_mode="dict"))), num_cycles=200)
        # and PettingZoo's own Parallel -> AEC conversion of our Parallel view
        api_test(parallel_to_aec(seeded(bargaining.parallel_env())), num_cycles=200)


def test_sampled_actions_reach_every_ending():
    """The conformance runs above only mean something if sampled play reaches deals and walk-aways."""
    endings = set()
    env = bargaining.raw_env()
    for seed in range(40):
        env.reset(seed=seed)
        seeded(env, seed)
        while env.agents:
            _, _, terminations, truncations, infos = env.step(env.action_space(env.current_agent).sample())
        endings.add(
            "deal" if infos["player_0"]["deal"] else ("walk" if terminations["player_0"] else "limit")
        )
    assert endings == {"deal", "walk", "limit"}


def test_aec_last_reports_rewards_accumulated_since_the_agents_last_move():
    env = to_aec(bargaining.raw_env())
    env.reset(options={"scenario": SCENARIO})
    env.step(answer("propose hat=1"))  # player_0
    env.step("no idea")  # player_1, malformed: -0.1, and player_1 moves again
    assert env.agent_selection == "player_1"
    _, reward, *_ = env.last()
    assert reward == pytest.approx(-0.1)
    env.step(answer("accept"))  # player_1 accepts: player_0 gets 0.5, player_1 0.8
    rewards = {}
    for agent in env.agent_iter():
        _, reward, terminated, _, info = env.last()
        rewards[agent] = reward
        assert terminated
        assert sum(info["reward_components"].values()) == pytest.approx(reward)  # components sum to last()
        env.step(None)
    assert rewards == {"player_0": pytest.approx(0.5), "player_1": pytest.approx(0.8)}


def test_parallel_view_needs_the_movers_action():
    env = bargaining.parallel_env()
    env.reset(seed=0)
    with pytest.raises(KeyError, match="player_0's move"):
        env.step({"player_1": answer("accept")})


# ------------------------------------------------------- policies play PettingZoo envs
def test_selfplay_yields_one_trajectory_per_agent_in_spec_order():
    calls = []

    class Counting(TimeDependentNegotiator):
        def act(self, inputs):
            calls.append(len(inputs))
            return super().act(inputs)

    specs = grouped_specs(range(5), 2)
    batch = run_multiagent_episodes([bargaining.raw_env() for _ in range(4)], Counting(), specs)
    assert len(batch) == 2 * len(specs)
    assert [t.info["agent"] for t in batch] == ["player_0", "player_1"] * len(specs)
    assert [t.info["seed"] for t in batch[::2]] == [s.seed for s in specs]
    assert batch[0].group_id == "seed-0/player_0" and batch[1].group_id == "seed-0/player_1"
    assert max(calls) > 1  # one batched act call covers several live episodes
    for first, second in zip(batch[::2], batch[1::2]):
        for trajectory in (first, second):
            assert trajectory.outcome == pytest.approx(trajectory.total_reward)  # the deal is the only reward
            assert trajectory.turns[-1].terminated
            assert "You are " + trajectory.info["agent"] in trajectory.instructions
        # player_0 moves first, so it has as many turns as player_1 or one more
        assert len(first.turns) - len(second.turns) in (0, 1)
    # the same seed gives the same game for both group members
    assert [t.turns[0].action for t in batch[0:4:2]] == [batch[0].turns[0].action] * 2


def test_rewards_follow_last_semantics_in_a_scripted_bargain():
    env = bargaining.raw_env()
    spec = EpisodeSpec(seed=0, options={"scenario": SCENARIO})
    policies = {
        "player_0": ReplayPolicy([answer("propose hat=1"), answer("propose hat=1 ball=1")]),
        "player_1": ReplayPolicy(["gibberish", answer("propose book=3 ball=2"), answer("accept")]),
    }
    player_0, player_1 = run_multiagent_episodes([env], policies, [spec])
    assert [t.reward for t in player_0.turns] == [0.0, pytest.approx(0.6)]  # hat + ball = 6 of 10
    # player_1: malformed (-0.1), counter-offer (0), accept (3 books + 1 ball = 7 of 10)
    assert [t.reward for t in player_1.turns] == [pytest.approx(-0.1), 0.0, pytest.approx(0.7)]
    assert [t.info["action_valid"] for t in player_1.turns] == [False, True, True]
    assert "Invalid move" in player_1.turns[1].observation
    assert player_0.outcome == pytest.approx(0.6) and player_1.outcome == pytest.approx(0.7)
    assert "Final allocation" in player_0.final_observation


def test_learner_against_a_fixed_opponent_with_a_policy_per_agent():
    opponent = TimeDependentNegotiator("boulware")
    learner = RandomPolicy(seed=0)  # random text: mostly malformed, exercising the format penalty
    batch = run_multiagent_episodes(
        [bargaining.raw_env(max_turns=6) for _ in range(2)],
        {"player_0": learner, "player_1": opponent},
        grouped_specs(range(4), 1),
    )
    learner_turns = [turn for t in batch if t.info["agent"] == "player_0" for turn in t.turns]
    assert any(not turn.info["action_valid"] for turn in learner_turns)
    assert all(turn.reward_components.get("format", 0) in (0.0, -0.1) for turn in learner_turns)


def test_tictactoe_rewards_reach_both_players_last_turns():
    tictactoe = pytest.importorskip("pettingzoo.classic.tictactoe_v3")
    # X (player_1) takes the top row; O (player_2) plays 3 and 4.
    policies = {
        "player_1": ReplayPolicy([answer("0"), answer("1"), answer("2")]),
        "player_2": ReplayPolicy([answer("3"), answer("4")]),
    }
    x, o = run_multiagent_episodes([tictactoe.env()], policies, [EpisodeSpec(seed=0)])
    assert [t.reward for t in x.turns] == [0, 0, 1] and x.turns[-1].terminated
    assert [t.reward for t in o.turns] == [0, -1] and o.turns[-1].terminated
    assert x.outcome == 1 and o.outcome == -1  # no success/outcome info: the return
    assert "Legal actions: 0, 1, 2, 3, 4, 5, 6, 7, 8" in x.turns[0].observation
    assert "Legal actions: 2, 4, 5, 6, 7, 8" in o.turns[1].observation  # X took 0 and 1, O took 3


def test_random_policy_plays_only_legal_moves_from_the_listed_actions():
    tictactoe = pytest.importorskip("pettingzoo.classic.tictactoe_v3")
    batch = run_multiagent_episodes(
        [tictactoe.env() for _ in range(3)], RandomPolicy(seed=0), grouped_specs(range(10), 1)
    )
    assert sum(t.invalid_actions for t in batch) == 0
    for x, o in zip(batch[::2], batch[1::2]):
        assert x.total_reward + o.total_reward == 0 and x.total_reward in (
            -1,
            0,
            1,
        )  # zero-sum, win/draw/loss
        assert 3 <= len(x.turns) <= 5 and len(x.turns) - len(o.turns) in (0, 1)
    first = batch[0].turns[0]
    assert first.info["action_valid"] and "available_actions" not in first.info  # listed to the policy only


def test_illegal_moves_are_observations_and_repeated_ones_end_the_episode():
    tictactoe = pytest.importorskip("pettingzoo.classic.tictactoe_v3")
    policies = {"player_1": ReplayPolicy([answer("4")] * 2), "player_2": ReplayPolicy([answer("4")] * 5)}
    config = MultiAgentRolloutConfig(format_penalty=-0.5, max_invalid_in_a_row=3)
    x, o = run_multiagent_episodes([tictactoe.env()], policies, [EpisodeSpec(seed=0)], config=config)
    assert [t.reward for t in o.turns] == [-0.5] * 3  # square 4 is taken: never sent to the env
    assert all(t.info["action_valid"] is False for t in o.turns)
    assert "action 4 is not legal now" in o.turns[1].observation
    assert o.turns[-1].truncated and x.turns[-1].truncated and o.info["cut_by_rollout"]


def test_parallel_rock_paper_scissors_by_name():
    rps = pytest.importorskip("pettingzoo.classic.rps_v2")
    names = ["ROCK", "PAPER", "SCISSORS"]
    policies = {
        "player_0": ReplayPolicy([answer("rock"), answer("PAPER"), answer("2")]),
        "player_1": ReplayPolicy([answer("scissors"), answer("scissors"), answer("SCISSORS")]),
    }
    p0, p1 = run_multiagent_episodes(
        [rps.parallel_env(max_cycles=3)], policies, [EpisodeSpec(seed=0)], action_names=names
    )
    assert [t.reward for t in p0.turns] == [1, -1, 0]  # rock > scissors, paper < scissors, tie
    assert [t.reward for t in p1.turns] == [-1, 1, 0]
    assert p0.turns[-1].truncated and not p0.turns[-1].terminated  # max_cycles is a time limit
    assert "1 (PAPER)" in p0.turns[0].observation


def test_neural_policies_can_see_the_raw_observation():
    tictactoe = pytest.importorskip("pettingzoo.classic.tictactoe_v3")
    seen = []

    def first_legal(item):
        seen.append(item.observation)
        mask = item.observation["raw"]["action_mask"]
        return answer(str(int(mask.argmax())))

    config = MultiAgentRolloutConfig(observation_mode="dict")
    x, o = run_multiagent_episodes(
        [tictactoe.env()], ScriptedPolicy(first_legal), [EpisodeSpec(seed=0)], config=config
    )
    assert seen[0]["raw"]["observation"].shape == (3, 3, 2) and "Legal actions" in seen[0]["text"]
    # X plays 0, 2, 4, 6 in turn (always the lowest free square) and wins on the diagonal 2-4-6.
    assert [int(t.action[8]) for t in x.turns] == [0, 2, 4, 6] and x.turns[-1].reward == 1


def test_context_exhausted_ends_the_episode_truncated():
    def stop_after_one(item):
        return None if item.history else answer("propose hat=1")

    player_0, player_1 = run_multiagent_episodes(
        [bargaining.raw_env()], ScriptedPolicy(stop_after_one), [EpisodeSpec(seed=0)]
    )
    # each proposes once; player_0's second turn finds its context full: the game ends for both
    assert player_0.context_truncated and not player_1.context_truncated
    assert len(player_0.turns) == len(player_1.turns) == 1
    assert player_0.turns[-1].truncated and player_1.turns[-1].truncated


def test_parallel_view_plays_as_turn_based():
    batch = run_multiagent_episodes(
        [bargaining.parallel_env(observation_mode="text")], TimeDependentNegotiator(), [EpisodeSpec(seed=3)]
    )
    reference = run_multiagent_episodes(
        [bargaining.raw_env()], TimeDependentNegotiator(), [EpisodeSpec(seed=3)]
    )
    assert [t.to_dict() for t in batch] == [t.to_dict() for t in reference]


def test_bad_inputs_get_clear_errors():
    with pytest.raises(TypeError, match="AECEnv or ParallelEnv"):
        as_aec(object())
    from gymnasium import spaces

    with pytest.raises(TypeError, match="Box space"):
        AgentIO(spaces.Box(0, 1, (2,)))
    with pytest.raises(ValueError, match="2 names for 3 actions"):
        AgentIO(spaces.Discrete(3), action_names=["a", "b"])
    with pytest.raises(KeyError, match="player_1"):
        run_multiagent_episodes(
            [bargaining.raw_env()], {"player_0": TimeDependentNegotiator()}, [EpisodeSpec(seed=0)]
        )

    class Mute:
        def act(self, inputs):
            return [ActionOutput(text="")][: len(inputs) - 1]

    with pytest.raises(RuntimeError, match="returned 0 actions"):
        run_multiagent_episodes([bargaining.raw_env()], Mute(), [EpisodeSpec(seed=0)])


def test_reward_totals_match_the_env_over_random_play():
    """Invariant: per agent, the rollout's turn rewards sum to everything the env paid that agent."""
    totals = defaultdict(float)

    class Tap:
        def __init__(self, env):
            self.env = env

        def __getattr__(self, name):
            return getattr(self.env, name)

        def step(self, action):
            result = self.env.step(action)
            for agent, reward in result[1].items():
                totals[agent] += reward
            return result

    from agentrl.envs.multiagent.expose import TextAECEnv

    env = bargaining.raw_env(max_turns=8)
    tapped = TextAECEnv(env)
    tapped.env = Tap(env)
    policy = ScriptedPolicy(lambda item: env.action_space(env.current_agent).sample())
    seeded(env, 7)
    batch = run_multiagent_episodes([tapped], policy, grouped_specs(range(30), 1))
    for agent in env.possible_agents:
        got = sum(t.total_reward for t in batch if t.info["agent"] == agent)
        assert got == pytest.approx(totals[agent])
