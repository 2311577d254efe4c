import math

import pytest
import torch

from agentrl.train.losses import clipped_policy_loss, kl_to_reference, masked_mean, off_policy_weights, value_loss


def test_clipped_loss_hand_worked():
    # Two tokens: ratio e^0.5 = 1.6487 with A=+1 is clipped to 1.2; ratio e^-0.5 = 0.6065 with A=-2
    # is clipped to 0.8 -> min(0.6065*-2, 0.8*-2) = -1.6. Loss = -mean(1.2, -1.6) = 0.2.
    new = torch.tensor([[0.5, -0.5]])
    old = torch.zeros(1, 2)
    adv = torch.tensor([[1.0, -2.0]])
    loss, stats = clipped_policy_loss(new, old, adv, torch.ones(1, 2), clip=0.2)
    assert math.isclose(float(loss), 0.2, rel_tol=1e-5)
    assert stats["clip_fraction"] == 1.0


def test_unclipped_region_and_mask():
    new = torch.tensor([[0.1, 5.0]])
    old = torch.zeros(1, 2)
    adv = torch.tensor([[2.0, 100.0]])
    loss, _ = clipped_policy_loss(new, old, adv, torch.tensor([[1.0, 0.0]]), clip=0.2)
    assert math.isclose(float(loss), -2.0 * math.exp(0.1), rel_tol=1e-5)


def test_gradient_is_policy_gradient_at_ratio_one():
    new = torch.zeros(1, 3, requires_grad=True)
    adv = torch.tensor([[1.0, -1.0, 0.5]])
    loss, _ = clipped_policy_loss(new, torch.zeros(1, 3), adv, torch.ones(1, 3))
    loss.backward()
    assert torch.allclose(new.grad, -adv / 3)


def test_kl_is_zero_for_identical_policies_and_positive_otherwise():
    a = torch.tensor([[-1.0, -2.0]])
    assert float(kl_to_reference(a, a, torch.ones(1, 2))) == 0.0
    # k3 with log-ratio r = ref - new = 0.5: e^0.5 - 0.5 - 1 = 0.148721
    assert math.isclose(float(kl_to_reference(a, a + 0.5, torch.ones(1, 2))), math.exp(0.5) - 1.5, rel_tol=1e-5)


def test_value_loss_and_masked_mean():
    assert float(value_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0]))) == (0.5 * 1 + 0.5 * 4) / 2
    assert float(masked_mean(torch.tensor([1.0, 9.0]), torch.tensor([1.0, 0.0]))) == 1.0


# --------------------------------------------------------------------------- off-policy correction
def _random_case(seed, rows=4, width=9):
    g = torch.Generator().manual_seed(seed)
    behaviour = -torch.rand(rows, width, generator=g) * 3
    proximal = behaviour + torch.randn(rows, width, generator=g) * 0.6
    logprobs = proximal + torch.randn(rows, width, generator=g) * 0.3
    advantages = torch.randn(rows, width, generator=g)
    mask = (torch.rand(rows, width, generator=g) > 0.3).float()
    return logprobs, proximal, behaviour, advantages, mask


@pytest.mark.parametrize("mode", ["tis", "decoupled"])
@pytest.mark.parametrize("level", ["token", "turn"])
def test_weights_are_exactly_one_when_behaviour_and_proximal_coincide(mode, level):
    _, proximal, _, _, mask = _random_case(0)
    token_turn = torch.arange(proximal.shape[0]).unsqueeze(1).expand_as(proximal)
    weights, stats = off_policy_weights(proximal, proximal.clone(), mask, mode=mode, level=level,
                                        token_turn=token_turn, num_turns=proximal.shape[0])
    assert torch.equal(weights, mask)  # 1 on every trained token, 0 elsewhere
    assert stats == {"is_ratio_mean": 1.0, "is_ratio_max": 1.0, "is_clipped_fraction": 0.0}


def test_tis_truncates_and_decoupled_masks_hand_worked():
    # log-ratios 0, ln 3, -ln 2 on trained tokens; the fourth token is untrained.
    behaviour = torch.zeros(1, 4)
    proximal = torch.tensor([[0.0, math.log(3.0), -math.log(2.0), 5.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    tis, stats = off_policy_weights(proximal, behaviour, mask, mode="tis", cap=2.0)
    assert torch.allclose(tis, torch.tensor([[1.0, 2.0, 0.5, 0.0]]))
    assert math.isclose(stats["is_ratio_mean"], (1 + 3 + 0.5) / 3, rel_tol=1e-6)
    assert math.isclose(stats["is_ratio_max"], 3.0, rel_tol=1e-6)  # the untrained token's e^5 is ignored
    assert math.isclose(stats["is_clipped_fraction"], 1 / 3, rel_tol=1e-6)
    decoupled, _ = off_policy_weights(proximal, behaviour, mask, mode="decoupled", cap=2.0)
    assert torch.allclose(decoupled, torch.tensor([[1.0, 0.0, 0.5, 0.0]]))
    uncapped, stats = off_policy_weights(proximal, behaviour, mask, mode="decoupled", cap=None)
    assert torch.allclose(uncapped, torch.tensor([[1.0, 3.0, 0.5, 0.0]])) and stats["is_clipped_fraction"] == 0.0


def test_turn_level_weight_is_the_product_over_the_turn():
    # Two turns in one row: tokens 0-1 (ratios 2 and 1.5: product 3) and tokens 2-3 (ratios 0.5 and 1).
    behaviour = torch.zeros(1, 4)
    proximal = torch.log(torch.tensor([[2.0, 1.5, 0.5, 1.0]]))
    token_turn = torch.tensor([[0, 0, 1, 1]])
    weights, stats = off_policy_weights(proximal, behaviour, torch.ones(1, 4), mode="tis", level="turn", cap=2.5,
                                        token_turn=token_turn, num_turns=2)
    assert torch.allclose(weights, torch.tensor([[2.5, 2.5, 0.5, 0.5]]))
    assert math.isclose(stats["is_clipped_fraction"], 0.5, rel_tol=1e-6)


def test_a_vanishing_behaviour_probability_cannot_overflow_the_weight():
    weights, stats = off_policy_weights(torch.zeros(1, 1), torch.full((1, 1), -1e4), torch.ones(1, 1),
                                        mode="tis", cap=None)
    assert torch.isfinite(weights).all() and math.isclose(stats["is_ratio_max"], math.exp(20.0), rel_tol=1e-5)


def test_bad_mode_and_level_are_explained():
    x = torch.zeros(1, 2)
    with pytest.raises(ValueError, match="mode must be 'tis' or 'decoupled'"):
        off_policy_weights(x, x, x, mode="none")
    with pytest.raises(ValueError, match="level must be one of token, turn"):
        off_policy_weights(x, x, x, mode="tis", level="episode")
    with pytest.raises(ValueError, match="needs token_turn"):
        off_policy_weights(x, x, x, mode="tis", level="turn")


def test_weights_carry_no_gradient():
    proximal = torch.zeros(1, 3, requires_grad=True)
    weights, _ = off_policy_weights(proximal, torch.zeros(1, 3), torch.ones(1, 3), mode="tis")
    assert not weights.requires_grad


# Reference oracles, ported closely from upstream for these tests only (Apache License 2.0):
# AReaL's ppo_actor_loss_fn (inclusionAI/AReaL, areal/utils/functional.py) and SkyRL's
# ppo_policy_loss with use_tis (NovaSky-AI/SkyRL, skyrl_train/utils/ppo_utils.py), token-mean reduction.
def _areal_decoupled_loss(logprobs, proximal_logprobs, old_logprobs, advantages, eps_clip, loss_mask, cap):
    loss_mask = loss_mask.bool()
    loss_mask_count = loss_mask.count_nonzero() or 1
    ratio = torch.where(loss_mask, torch.exp(logprobs - proximal_logprobs), 0)
    clipped_ratio = torch.clamp(ratio, 1.0 - eps_clip, 1.0 + eps_clip)
    pg_loss = torch.max(-advantages * ratio, -advantages * clipped_ratio)
    behav_imp_weight = (proximal_logprobs - old_logprobs).exp()
    behav_mask = (behav_imp_weight <= cap).logical_and(loss_mask) if cap is not None else loss_mask
    behav_imp_weight = torch.where(behav_mask, behav_imp_weight, 0.0)
    pg_loss = pg_loss * behav_imp_weight
    return torch.where(loss_mask, pg_loss, 0).sum() / loss_mask_count


def _skyrl_tis_loss(log_probs, old_log_probs, rollout_logprobs, advantages, eps_clip, loss_mask, cap):
    ratio = (log_probs - old_log_probs).exp()
    surr1 = ratio * advantages
    surr2 = ratio.clamp(1 - eps_clip, 1 + eps_clip) * advantages
    loss = -torch.min(surr1, surr2)
    tis_imp_ratio = torch.exp(torch.clamp(old_log_probs - rollout_logprobs, -20.0, 20.0))
    loss = loss * torch.clamp(tis_imp_ratio, max=cap)
    return (loss * loss_mask).sum() / loss_mask.sum()


def _skyrl_sequence_tis_loss(log_probs, old_log_probs, rollout_logprobs, advantages, eps_clip, loss_mask, cap):
    ratio = (log_probs - old_log_probs).exp()
    loss = -torch.min(ratio * advantages, ratio.clamp(1 - eps_clip, 1 + eps_clip) * advantages)
    seq_log_ratio = ((old_log_probs - rollout_logprobs) * loss_mask).sum(dim=-1, keepdim=True)
    loss = loss * torch.clamp(torch.exp(torch.clamp(seq_log_ratio, -20.0, 20.0)), max=cap)
    return (loss * loss_mask).sum() / loss_mask.sum()


@pytest.mark.parametrize("seed", range(40))
def test_decoupled_loss_and_gradient_match_areal(seed):
    logprobs, proximal, behaviour, advantages, mask = _random_case(seed)
    cap = [None, 1.5, 2.0, 5.0][seed % 4]
    mine_input = logprobs.clone().requires_grad_(True)
    weights, _ = off_policy_weights(proximal, behaviour, mask, mode="decoupled", cap=cap)
    mine, _ = clipped_policy_loss(mine_input, proximal, advantages, mask, clip=0.2, weights=weights)
    mine.backward()
    theirs_input = logprobs.clone().requires_grad_(True)
    theirs = _areal_decoupled_loss(theirs_input, proximal, behaviour, advantages, 0.2, mask, cap)
    theirs.backward()
    assert torch.allclose(mine, theirs, atol=1e-6)
    assert torch.allclose(mine_input.grad, theirs_input.grad, atol=1e-6)


@pytest.mark.parametrize("seed", range(40))
def test_token_tis_loss_and_gradient_match_skyrl(seed):
    logprobs, proximal, behaviour, advantages, mask = _random_case(seed)
    cap = [1.0, 1.5, 2.0, 10.0][seed % 4]
    mine_input = logprobs.clone().requires_grad_(True)
    weights, _ = off_policy_weights(proximal, behaviour, mask, mode="tis", cap=cap)
    mine, _ = clipped_policy_loss(mine_input, proximal, advantages, mask, clip=0.2, weights=weights)
    mine.backward()
    theirs_input = logprobs.clone().requires_grad_(True)
    theirs = _skyrl_tis_loss(theirs_input, proximal, behaviour, advantages, 0.2, mask, cap)
    theirs.backward()
    assert torch.allclose(mine, theirs, atol=1e-6)
    assert torch.allclose(mine_input.grad, theirs_input.grad, atol=1e-6)


@pytest.mark.parametrize("seed", range(20))
def test_turn_level_tis_with_one_turn_per_row_is_skyrl_sequence_tis(seed):
    logprobs, proximal, behaviour, advantages, mask = _random_case(seed)
    token_turn = torch.arange(logprobs.shape[0]).unsqueeze(1).expand_as(logprobs)
    weights, _ = off_policy_weights(proximal, behaviour, mask, mode="tis", level="turn", cap=3.0,
                                    token_turn=token_turn, num_turns=logprobs.shape[0])
    mine, _ = clipped_policy_loss(logprobs, proximal, advantages, mask, clip=0.2, weights=weights)
    theirs = _skyrl_sequence_tis_loss(logprobs, proximal, behaviour, advantages, 0.2, mask, 3.0)
    assert torch.allclose(mine, theirs, atol=1e-6)
