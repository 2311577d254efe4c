"""OPRL implicit PRM: step rewards and the DPO loss by hand, exact gradients, invariants, resume."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from reward_helpers import UnigramLM, attach_tokens, trajectory

from agentrl.core.trajectory import Trajectory, TrajectoryBatch, Turn
from agentrl.models import tiny_causal_lm
from agentrl.rewards import ImplicitPRM
from agentrl.rewards.oprl import dpo_loss_and_grad, dpo_pairs
from agentrl.models.logprobs import collate_segments, per_turn_sum, token_logprobs

LOG_QUARTER = -math.log(4.0)  # log-prob of any token under UnigramLM(4) with zero bias


def turn(ids, mask, old, new_context=True) -> Turn:
    return Turn(
        observation="o", action="a", token_ids=ids, loss_mask=mask, logprobs=old, new_context=new_context
    )


def toy_batch() -> TrajectoryBatch:
    winner = Trajectory(
        turns=[
            turn([0, 1, 2, 3, 1], [0, 0, 1, 1, 1], [0.0, 0.0, -1.0, -2.0, -0.5]),
            turn([0, 2], [0, 1], [0.0, LOG_QUARTER], new_context=False),  # continues the same sequence
        ],
        group_id="g",
        success=True,
    )
    loser = Trajectory(turns=[turn([0, 1, 2], [0, 0, 1], [0.0, 0.0, -3.0])], group_id="g", success=False)
    return TrajectoryBatch([winner, loser])


def test_step_rewards_and_dpo_loss_by_hand():
    batch = toy_batch()
    stage = ImplicitPRM(model=UnigramLM(4), beta=0.05, update=False)
    stage(batch)
    winner, loser = batch
    # r = beta * (3 * log(1/4) - (-1 - 2 - .5)) = .05 * (-4.158883 + 3.5)
    assert winner.turns[0].fields["prm"] == pytest.approx(-0.0329441542, abs=1e-7)
    assert winner.turns[1].fields["prm"] == pytest.approx(0.0, abs=1e-7)  # PRM agrees with pi_old
    # r = .05 * (log(1/4) + 3)
    assert loser.turns[0].fields["prm"] == pytest.approx(0.0806852819, abs=1e-7)
    # normalised by the largest |r| in the batch
    assert winner.turns[0].fields["step_reward"] == pytest.approx(-0.408304382, abs=1e-6)
    assert loser.turns[0].fields["step_reward"] == pytest.approx(1.0)
    # Q+ = mean(-.0329442, 0) = -.0164721, Q- = .0806853; loss = -log sigmoid(Q+ - Q-) = log(1 + e^.0971574)
    assert batch.metrics["oprl/pairs"] == 1
    assert batch.metrics["oprl/dpo_loss"] == pytest.approx(0.7429053403, abs=1e-6)
    assert batch.metrics["oprl/q_margin"] == pytest.approx(-0.0971573590, abs=1e-6)


def test_dpo_loss_and_grad_by_hand():
    # margins .3 and .1: loss = (softplus(-.3) + softplus(-.1)) / 2; dL/dq_w = -sigmoid(-margin) / 2
    loss, grad = dpo_loss_and_grad([0.2, -0.1, 0.0], [(0, 1), (2, 1)])
    assert loss == pytest.approx(0.5993759523)
    assert grad[0] == pytest.approx(-0.2127787416)
    assert grad[2] == pytest.approx(-0.2375104063)
    assert grad[1] == pytest.approx(0.4502891479)


def test_pairs_only_within_groups_with_both_outcomes():
    batch = [
        trajectory([{}], group="a", success=True),
        trajectory([{}], group="a", success=True),
        trajectory([{}], group="a", success=False),
        trajectory([{}], group="b", success=True),
        trajectory([{}], group="c", success=False),
    ]
    assert sorted(dpo_pairs(batch)) == [(0, 2), (1, 2)]


def test_surrogate_gradient_equals_autograd_of_the_dpo_loss():
    batch = toy_batch()
    model = UnigramLM(4, bias=[0.3, -0.2, 0.1, 0.5])
    reference = copy.deepcopy(model)
    stage = ImplicitPRM(model=model, beta=0.05, lr=0.0, max_grad_norm=None)
    stage(batch)  # lr 0: the step leaves the weights, the gradient stays in .grad
    # the DPO loss written directly, differentiated by autograd
    q = []
    for traj in batch:
        collated = collate_segments(traj.segments())
        new = per_turn_sum(token_logprobs(reference, collated.input_ids, collated.attention_mask), collated)
        old = per_turn_sum(collated.old_logprobs, collated)
        q.append((0.05 * (new - old)).mean())
    loss = torch.nn.functional.softplus(-(q[0] - q[1]))
    loss.backward()
    torch.testing.assert_close(model.bias.grad, reference.bias.grad)
    assert batch.metrics["oprl/dpo_loss"] == pytest.approx(loss.item(), abs=1e-6)


def test_prm_equal_to_the_old_policy_gives_zero_step_rewards(tiny_tokenizer):
    policy = tiny_causal_lm(hidden_size=32, num_layers=1, num_heads=2, seed=3)
    batch = TrajectoryBatch([trajectory([{"step": -0.1}] * 3, group="g", success=s) for s in (True, False)])
    for traj in batch:
        for t, step in enumerate(traj.turns):
            step.observation, step.action = f"#__@.#\nturn {t}", "<answer>Up</answer>"
    attach_tokens(batch, tiny_tokenizer, policy)
    stage = ImplicitPRM(model=copy.deepcopy(policy), update=False)
    stage(batch)
    for step in batch.turns():
        assert step.fields["prm"] == pytest.approx(0.0, abs=1e-5)
        assert abs(step.fields["step_reward"]) < 0.05  # float noise is not normalised up to +-1
    assert batch.metrics["oprl/dpo_loss"] == pytest.approx(math.log(2.0), abs=1e-5)


def separable_batch(tokenizer, policy) -> TrajectoryBatch:
    """Two tasks; in each, 'Up' episodes succeed and 'Down' episodes fail."""
    trajectories = []
    for group in ("room-1", "room-2"):
        for action, success in (("Up", True), ("Up", True), ("Down", False), ("Down", False)):
            traj = trajectory([{"step": -0.1}] * 2, group=group, success=success)
            for step in traj.turns:
                step.observation, step.action = f"{group}\n#_@_#", f"<answer>{action}</answer>"
            trajectories.append(traj)
    return attach_tokens(TrajectoryBatch(trajectories), tokenizer, policy)


def test_dpo_loss_decreases_on_a_separable_batch(tiny_tokenizer):
    policy = tiny_causal_lm(hidden_size=32, num_layers=1, num_heads=2, seed=0)
    stage = ImplicitPRM(model=copy.deepcopy(policy), beta=0.5, lr=3e-3)
    losses, margins = [], []
    for _ in range(6):
        batch = stage(separable_batch(tiny_tokenizer, policy))
        losses.append(batch.metrics["oprl/dpo_loss"])
        margins.append(batch.metrics["oprl/q_margin"])
    assert losses[0] == pytest.approx(math.log(2.0), abs=1e-4)  # the PRM starts equal to pi_old
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < losses[0] - 0.05
    assert margins[-1] > 0  # successful trajectories now score higher
    winner, loser = batch[0], batch[2]
    assert sum(t.fields["prm"] for t in winner.turns) > sum(t.fields["prm"] for t in loser.turns)


def test_rewards_come_from_the_pass_before_the_update(tiny_tokenizer):
    policy = tiny_causal_lm(hidden_size=32, num_layers=1, num_heads=2, seed=1)
    first = separable_batch(tiny_tokenizer, policy)
    prm = copy.deepcopy(policy)
    for p in prm.parameters():  # move the PRM away from pi_old so rewards are non-zero
        p.data.add_(0.05 * torch.randn_like(p))
    before = ImplicitPRM(model=copy.deepcopy(prm), update=False).score(first)
    stage = ImplicitPRM(model=prm, lr=1e-2)
    stage(first)
    flat = [r for rs in before for r in rs]
    assert [t.fields["prm"] for t in first.turns()] == pytest.approx(flat, abs=1e-6)
    after = [r for rs in stage.score(first) for r in rs]
    assert after != pytest.approx(flat, abs=1e-6)  # the step changed the PRM
    assert stage.updates == 1


def test_no_pairs_means_no_update():
    batch = toy_batch()
    for traj in batch:
        traj.success = True
    model = UnigramLM(4, bias=[0.1, 0.2, 0.3, 0.4])
    ImplicitPRM(model=model, lr=1.0)(batch)
    torch.testing.assert_close(model.bias.data, torch.tensor([0.1, 0.2, 0.3, 0.4]))
    assert batch.metrics["oprl/pairs"] == 0 and "oprl/dpo_loss" not in batch.metrics


def test_state_dict_resumes_exactly(tiny_tokenizer):
    policy = tiny_causal_lm(hidden_size=32, num_layers=1, num_heads=2, seed=2)
    straight = ImplicitPRM(model=copy.deepcopy(policy), beta=0.5, lr=3e-3)
    straight(separable_batch(tiny_tokenizer, policy))
    saved = copy.deepcopy(straight.state_dict())
    resumed = ImplicitPRM(model=copy.deepcopy(policy), beta=0.5, lr=3e-3)
    resumed.load_state_dict(saved)
    a = straight(separable_batch(tiny_tokenizer, policy))
    b = resumed(separable_batch(tiny_tokenizer, policy))
    assert [t.fields["prm"] for t in a.turns()] == [t.fields["prm"] for t in b.turns()]
    for p, q in zip(straight.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert resumed.updates == 2


def test_trajectories_without_tokens_are_a_clear_error():
    batch = TrajectoryBatch([trajectory([{"step": 1.0}])])
    with pytest.raises(ValueError, match="token ids"):
        ImplicitPRM(model=UnigramLM(4))(batch)


def test_token_ids_outside_the_prm_vocabulary_are_a_clear_error():
    batch = TrajectoryBatch([Trajectory(turns=[turn([0, 9], [0, 1], [0.0, -1.0])])])
    with pytest.raises(ValueError, match="vocabulary"):
        ImplicitPRM(model=UnigramLM(4))(batch)
