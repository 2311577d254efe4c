"""The bargaining game: rules and scores worked by hand, the env contract, the judge variant, the
single-agent Gymnasium view and the scripted negotiators."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import agentrl
from agentrl.core.config import ConfigError
from agentrl.rollout import grouped_specs, run_episodes
from agentrl.envs.multiagent.bargaining import BargainingEnv, TimeDependentNegotiator, raw_env
from agentrl.envs.multiagent.bargaining.game import (
    Action,
    Negotiation,
    Scenario,
    ScenarioConfig,
    pareto_optimal,
    parse_action,
    sample_scenario,
    value_of,
)
from agentrl.envs.multiagent.bargaining.goals import Goal, draw_goals
from agentrl.envs.multiagent.bargaining.solo import BargainingSoloEnv
from agentrl.judges import JudgeError, OracleJudge

# Worked example: 3 books, 1 hat, 2 balls. player_0 values them 1, 5, 1 (3 + 5 + 2 = 10);
# player_1 values them 2, 2, 1 (6 + 2 + 2 = 10).
SCENARIO = Scenario(("book", "hat", "ball"), (3, 1, 2), ((1, 5, 1), (2, 2, 1)))


def answer(move: str) -> str:
    return f"<answer>{move}</answer>"


# ---------------------------------------------------------------------------- rules
def test_scenarios_are_valid_and_reproducible():
    config = ScenarioConfig()
    for seed in range(200):
        scenario = sample_scenario(np.random.default_rng(seed), config)
        assert config.min_items <= sum(scenario.counts) <= config.max_items
        assert all(c >= 1 for c in scenario.counts)
        for values in scenario.values:
            assert value_of(values, scenario.counts) == config.total_value
        assert scenario.values[0] != scenario.values[1]
        assert all(a + b > 0 for a, b in zip(*scenario.values))
        assert sample_scenario(np.random.default_rng(seed), config) == scenario


@pytest.mark.parametrize(
    "text, expected",
    [
        ("propose book=2 hat=1", Action("propose", (2, 1, 0))),
        ("Propose books: 3, balls=2", Action("propose", (3, 0, 2))),
        ("accept", Action("accept")),
        ("walk away.", Action("walk")),
    ],
)
def test_parse_valid_moves(text, expected):
    assert parse_action(text, SCENARIO) == expected


@pytest.mark.parametrize(
    "text, reason",
    [
        ("propose book=4", "0 to 3 book"),
        ("propose pens=1", "unknown item 'pens'"),
        ("propose", "a proposal lists what you keep"),
        ("let us be friends", "is not a move"),
    ],
)
def test_parse_invalid_moves_explain_why(text, reason):
    error = parse_action(text, SCENARIO)
    assert isinstance(error, str) and reason in error


def test_accepted_split_scores_each_side_by_its_own_values():
    game = Negotiation(SCENARIO)
    assert game.apply(0, Action("propose", (0, 1, 0))) is None  # player_0 keeps the hat
    assert game.offer_for(1) == (3, 0, 2) and game.offer_for(0) is None
    assert game.apply(0, Action("accept")) is not None  # nobody can accept their own offer
    assert game.apply(1, Action("accept")) is None
    assert game.deal == ((0, 1, 0), (3, 0, 2))
    assert game.score(0) == pytest.approx(5 / 10)
    assert game.score(1) == pytest.approx((3 * 2 + 2 * 1) / 10)
    assert game.outcome_text() == (
        "Deal reached. Final allocation: player_0 gets book=0 hat=1 ball=0; "
        "player_1 gets book=3 hat=0 ball=2."
    )


def test_walking_away_scores_zero_for_both():
    game = Negotiation(SCENARIO)
    game.apply(0, Action("propose", (3, 1, 2)))
    game.apply(1, Action("walk"))
    assert game.ended and game.deal is None
    assert game.score(0) == game.score(1) == 0.0


def test_pareto_optimality_by_hand():
    # hat to player_0 (5 vs 2) and books to player_1 (2 vs 1) is efficient; balls are worth 1 to both.
    assert pareto_optimal(SCENARIO, (0, 1, 0))
    assert pareto_optimal(SCENARIO, (0, 1, 2))
    # player_0 keeping the books (3) and giving the hat away (player_1: 2 + 2 = 4) is dominated by
    # the swap: player_0 gets 5 and player_1 gets 6.
    assert not pareto_optimal(SCENARIO, (3, 0, 0))


# ------------------------------------------------------------------------ the env
def play(env: BargainingEnv, *moves: str):
    result = None
    for move in moves:
        result = env.step(move)
    return result


def test_env_rewards_the_deal_at_the_end_only():
    env = raw_env()
    observations, infos = env.reset(options={"scenario": SCENARIO})
    assert env.current_agent == "player_0" and infos["player_0"]["negotiation"]["values"] == [1, 5, 1]
    _, rewards, terminations, truncations, _ = env.step(answer("propose book=0 hat=1 ball=0"))
    assert rewards == {"player_0": 0.0, "player_1": 0.0} and not any(terminations.values())
    assert env.current_agent == "player_1"
    observations, rewards, terminations, truncations, infos = env.step(answer("accept"))
    assert rewards == {"player_0": pytest.approx(0.5), "player_1": pytest.approx(0.8)}
    assert all(terminations.values()) and not any(truncations.values()) and env.agents == []
    for agent, score in (("player_0", 0.5), ("player_1", 0.8)):
        info = infos[agent]
        assert info["outcome"] == pytest.approx(score) and info["success"] is True
        assert info["reward_components"]["deal"] == pytest.approx(score)
        assert info["pareto_optimal"] is True and info["deal"] == {
            "player_0": [0, 1, 0],
            "player_1": [3, 0, 2],
        }
        assert "Final allocation" in observations[agent]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(answer("accept"))


def test_private_values_stay_private_and_messages_reach_the_other_player():
    env = raw_env()
    observations, _ = env.reset(options={"scenario": SCENARIO})
    assert "book=1 hat=5 ball=1" in observations["player_0"]
    assert "book=1 hat=5 ball=1" not in observations["player_1"]
    assert "book=2 hat=2 ball=1" not in observations["player_0"]
    observations, *_ = env.step(
        answer("propose book=0 hat=1 ball=2") + "<message>The hat matters to me.</message>"
    )
    assert 'player_0 says: "The hat matters to me."' in observations["player_1"]
    assert (
        "Standing offer from player_0: you get book=3 hat=0 ball=0 (worth 6 to you)"
        in observations["player_1"]
    )


def test_malformed_moves_cost_the_format_penalty_and_the_same_player_moves_again():
    env = raw_env(format_penalty=-0.25)
    env.reset(options={"scenario": SCENARIO})
    observations, rewards, terminations, truncations, infos = env.step("I would like the hat please")
    assert rewards == {"player_0": -0.25, "player_1": 0.0}
    assert infos["player_0"]["action_valid"] is False and infos["player_0"]["invalid_actions"] == 1
    assert infos["player_1"]["action_valid"] is True
    assert env.current_agent == "player_0" and "Invalid move" in observations["player_0"]
    assert "Invalid move" not in observations["player_1"]
    _, rewards, *_ = env.step(answer("accept"))  # nothing to accept yet: invalid, state unchanged
    assert rewards["player_0"] == -0.25 and env.game.offer is None and env.current_agent == "player_0"
    env.step(answer("propose hat=1"))
    assert env.current_agent == "player_1"


def test_turn_limit_truncates_with_no_deal():
    env = raw_env(max_turns=3)
    env.reset(options={"scenario": SCENARIO})
    _, rewards, terminations, truncations, infos = play(
        env, answer("propose hat=1"), answer("propose book=3"), answer("propose hat=1 ball=1")
    )
    assert all(truncations.values()) and not any(terminations.values())
    assert rewards == {"player_0": 0.0, "player_1": 0.0}
    assert infos["player_0"]["outcome"] == 0.0 and infos["player_0"]["success"] is False


def test_scenario_option_must_be_a_scenario():
    with pytest.raises(ConfigError, match="Scenario"):
        raw_env().reset(options={"scenario": {"counts": [1, 2, 3]}})


def test_unknown_config_keys_list_the_valid_ones():
    with pytest.raises(ConfigError, match="max_turns"):
        raw_env(max_turn=3)


def test_dict_observations_carry_the_private_features():
    env = raw_env(observation_mode="dict")
    observations, _ = env.reset(options={"scenario": SCENARIO})
    features = observations["player_1"]["observation"]
    # counts, own values, offer to me (none: -1), my offer stands, turn, max turns, my move
    assert features.tolist() == [3, 1, 2, 2, 2, 1, -1, -1, -1, 0, 0, 10, 0]
    assert env.observation_space("player_1").contains(observations["player_1"])


# --------------------------------------------------------------- the judge variant
def test_goals_follow_hidden_values():
    goals = draw_goals(SCENARIO, 0)  # favourite: the hat (5); second: books (1, tie with balls -> first)
    assert goals == [Goal(0, "at_least", 1, 1), Goal(0, "more", 0)]
    assert [g.text(SCENARIO) for g in goals] == [
        "player_0: get at least 1 hats",
        "player_0: get more books than the other player",
    ]
    deal = ((0, 1, 0), (3, 0, 2))
    assert goals[0].met(deal) and not goals[1].met(deal) and not goals[0].met(None)


def test_judge_variant_scores_by_the_judges_verdicts():
    env = raw_env(reward="judge", judge="oracle")
    observations, _ = env.reset(options={"scenario": SCENARIO})
    assert (
        "Your private goals: get at least 1 hats; get more books than the other player."
        in observations["player_0"]
    )
    assert "hat=5" not in observations["player_0"]  # no numbers in this variant
    # player_1 (values 2, 2, 1): at least 1 hat, more books than player_0.
    _, rewards, _, _, infos = play(env, answer("propose hat=1 ball=2"), answer("accept"))
    # player_0 keeps hat and balls: its hat goal is met, its books goal is not -> 1/2.
    # player_1 gets 3 books and no hat: its books goal is met, its hat goal is not -> 1/2.
    assert rewards == {"player_0": 0.5, "player_1": 0.5}
    assert infos["player_0"]["reward_components"]["judge"] == 0.5 and infos["player_0"]["success"] is False
    assert sum(env.verdicts.values()) == 2 and len(env.verdicts) == 4


class RecordingJudge(OracleJudge):
    """The oracle, recording what the env sent (the inputs a language-model judge would read)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def judge(self, observation, action, next_observation, subgoals, *, task="", info=None):
        self.calls.append((observation, action, next_observation, list(subgoals), task))
        return super().judge(observation, action, next_observation, subgoals, task=task, info=info)


def test_judge_reads_transcript_final_move_outcome_and_task():
    judge = RecordingJudge()
    env = raw_env(reward="judge", judge=judge)
    env.reset(options={"scenario": SCENARIO})
    play(env, answer("propose hat=1") + "<message>Hats are all I need.</message>", answer("walk away"))
    ((transcript, action, outcome, goals, task),) = judge.calls
    assert transcript.splitlines() == [
        "player_0 proposes to keep book=0 hat=1 ball=0 (the other player gets book=3 hat=0 ball=2).",
        'player_0 says: "Hats are all I need."',
        "player_1 walks away: no deal.",
    ]
    assert action == "walk away" and outcome.startswith("No deal")
    assert len(goals) == 4 and all(f"- {goal}" in task for goal in goals)


class ForgetfulJudge(OracleJudge):
    def judge(self, observation, action, next_observation, subgoals, *, task="", info=None):
        return {subgoals[0]: True}


def test_judge_without_a_verdict_is_an_error_not_a_zero():
    env = raw_env(reward="judge", judge=ForgetfulJudge())
    env.reset(options={"scenario": SCENARIO})
    env.step(answer("propose hat=1"))
    with pytest.raises(JudgeError, match="no verdict"):
        env.step(answer("accept"))


def test_language_model_judge_over_an_openai_endpoint_scores_the_game():
    """The real OpenAIJudge path: the endpoint reads the goals and the outcome from the prompt."""
    pytest.importorskip("openai")
    from agentrl.serving.openai_server import OpenAICompatServer

    prompts = []

    def referee(model, messages, params):
        prompt = messages[-1]["content"]
        prompts.append(prompt)
        goals = [line[2:].strip() for line in prompt.splitlines() if line.startswith("- player_")]
        # a lenient referee: every goal of the player who kept the hat is met, none of the other's
        keeper = "player_0" if "player_0 gets book=0 hat=1" in prompt else "player_1"
        return repr({goal: goal.startswith(keeper) for goal in goals})

    with OpenAICompatServer(referee) as server:
        judge = {"type": "openai", "model": "referee", "base_url": server.base_url, "timeout": 10}
        env = raw_env(reward="judge", judge=judge)
        env.reset(options={"scenario": SCENARIO})
        _, rewards, *_ = play(env, answer("propose hat=1"), answer("accept"))
    assert rewards == {"player_0": 1.0, "player_1": 0.0}
    (prompt,) = prompts
    assert "player_1 accepts." in prompt and "Final allocation: player_0 gets book=0 hat=1 ball=0" in prompt


def test_judge_variant_needs_a_judge():
    with pytest.raises(ConfigError, match="needs a judge"):
        raw_env(reward="judge")
    with pytest.raises(ConfigError, match="unknown judge type"):
        raw_env(reward="judge", judge="psychic")


# ------------------------------------------------------------------- negotiators
def test_aspiration_by_hand():
    linear = TimeDependentNegotiator("linear", reservation=0.3)
    assert linear.aspiration(0, 10) == 1.0
    assert linear.aspiration(3, 10) == pytest.approx(1 - 0.7 * 3 / 9)
    assert linear.aspiration(9, 10) == pytest.approx(0.3)
    boulware = TimeDependentNegotiator("boulware", reservation=0.3)
    assert boulware.aspiration(3, 10) == pytest.approx(1 - 0.7 * (3 / 9) ** (1 / 0.3))
    assert (
        boulware.aspiration(3, 10)
        > linear.aspiration(3, 10)
        > TimeDependentNegotiator("conceder").aspiration(3, 10)
    )


def test_negotiator_moves_by_hand():
    negotiator = TimeDependentNegotiator("linear", reservation=0.3)
    view = {
        "item_names": ["book", "hat", "ball"],
        "counts": [3, 1, 2],
        "values": [1, 5, 1],
        "offer": None,
        "turn": 0,
        "max_turns": 10,
    }
    assert negotiator.choose(view) == "propose book=3 hat=1 ball=2"  # aspiration 1.0: everything
    # turn 6 of 10: aspiration 1 - 0.7 * 6/9 = 0.533; the cheapest share worth >= 5.33 is worth 6:
    # hat + one ball (6, 2 items) beats hat + one book (6, 2 items) on the tie-break (smaller tuple).
    assert negotiator.choose({**view, "turn": 6}) == "propose book=0 hat=1 ball=1"
    assert negotiator.choose({**view, "turn": 6, "offer": [0, 1, 1]}) == "accept"  # worth 6 >= 5.33
    assert negotiator.choose({**view, "turn": 6, "offer": [3, 0, 0]}) != "accept"  # worth 3
    assert negotiator.choose({**view, "turn": 9, "offer": [3, 0, 0]}) == "accept"  # last move: take it


def test_negotiator_rejects_unknown_tactics_and_foreign_envs():
    with pytest.raises(ValueError, match="conceder, linear, boulware"):
        TimeDependentNegotiator("stubborn")
    from agentrl.core.policy import PolicyInput

    with pytest.raises(ValueError, match="negotiation"):
        TimeDependentNegotiator().act([PolicyInput(observation="x")])


# --------------------------------------------------------------- single-agent view
@pytest.mark.parametrize("role", ["player_0", "player_1", "random"])
def test_solo_view_passes_check_env(role):
    check_env(BargainingSoloEnv(role=role))


def test_solo_view_registers_and_plays_against_the_scripted_opponent():
    agentrl.register("agentrl/Bargaining-v0", "agentrl.envs.multiagent.bargaining.solo:BargainingSoloEnv")
    envs = [agentrl.make("agentrl/Bargaining-v0", role="random") for _ in range(4)]
    expert = envs[0].unwrapped.expert_policy()
    batch = run_episodes(envs, expert, grouped_specs(range(40), 1))
    for trajectory in batch:
        last = trajectory.turns[-1]
        assert trajectory.outcome == pytest.approx(trajectory.total_reward)  # the deal is the only reward
        assert 0.0 <= trajectory.outcome <= 1.0
        assert last.terminated or last.truncated
        if last.terminated:
            assert last.reward_components["deal"] == pytest.approx(trajectory.outcome)
    assert batch.summary()["success_rate"] > 0.9  # two linear negotiators nearly always agree
    again = run_episodes(envs, expert, grouped_specs(range(40), 1))
    assert [t.to_dict() for t in again] == [t.to_dict() for t in batch]


def test_solo_view_as_second_player_sees_the_opening_offer():
    env = BargainingSoloEnv(role="player_1")
    observation, info = env.reset(seed=0)
    assert observation.startswith("player_0 proposes to keep")
    assert info["negotiation"]["player"] == 1 and info["negotiation"]["offer"] is not None


def test_solo_view_invalid_move_keeps_the_state():
    env = BargainingSoloEnv()
    env.reset(seed=1)
    before = (env.game.offer, list(env.game.transcript))
    observation, reward, terminated, truncated, info = env.step(answer("propose unicorns=1"))
    assert reward == pytest.approx(env.config.format_penalty) and not info["action_valid"]
    assert (env.game.offer, env.game.transcript) == before and "unknown item" in observation


def test_solo_view_walk_away_ends_with_zero():
    env = BargainingSoloEnv()
    env.reset(seed=1)
    _, reward, terminated, truncated, info = env.step(answer("walk away"))
    assert terminated and not truncated and reward == 0.0 and info["outcome"] == 0.0
