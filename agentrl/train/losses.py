"""Policy-gradient losses as pure functions of tensors (token- or action-level, masked)."""

from __future__ import annotations

import torch


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def clipped_policy_loss(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
    clip: float = 0.2,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO's clipped surrogate, averaged over masked tokens.

    ``advantages`` is per token (each token carries its turn's advantage).
    """
    log_ratio = (logprobs - old_logprobs) * mask
    ratio = torch.exp(log_ratio)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantages
    loss = -masked_mean(torch.minimum(unclipped, clipped), mask)
    with torch.no_grad():
        clip_fraction = masked_mean(((ratio - 1.0).abs() > clip).float(), mask)
        approx_kl = masked_mean(ratio - 1.0 - log_ratio, mask)  # k3 estimator of KL(old || new)
    return loss, {"clip_fraction": float(clip_fraction), "approx_kl": float(approx_kl)}


def kl_to_reference(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Unbiased, non-negative k3 estimate of KL(policy || reference) per masked token, averaged."""
    log_ratio = ref_logprobs - logprobs
    return masked_mean(torch.exp(log_ratio) - log_ratio - 1.0, mask)


def value_loss(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Half squared error between predicted values and targets."""
    error = 0.5 * (values - returns) ** 2
    return error.mean() if mask is None else masked_mean(error, mask)
