import math

import torch

from agentrl.train.losses import clipped_policy_loss, kl_to_reference, masked_mean, value_loss


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
