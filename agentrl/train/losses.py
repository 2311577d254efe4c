"""Policy-gradient losses as pure functions of tensors (token- or action-level, masked).

Off-policy correction. With asynchronous rollouts three policies meet in one update: the
*behaviour* policy that sampled a token (its log-prob is stored in ``Turn.logprobs``), the
*proximal* policy (the learner's weights at the start of the update, scored once before the first
step) and the current policy being optimised. :func:`off_policy_weights` gives the per-token weight
``pi_prox / pi_behav`` in one of two upstream forms, and :func:`clipped_policy_loss` clips the
ratio ``pi_theta / pi_prox`` and multiplies each token's surrogate by that weight:

* ``tis`` -- truncated importance sampling, the weight capped at ``cap`` (SkyRL's
  ``compute_tis_ratio`` in ``skyrl_train/utils/off_policy_correction_utils.py``; verl's
  ``tis_imp_ratio_cap`` in ``compute_policy_loss_vanilla``, ``verl/trainer/ppo/core_algos.py``);
* ``decoupled`` -- AReaL's decoupled PPO objective (``ppo_actor_loss_fn`` in
  ``areal/utils/functional.py``): tokens whose weight exceeds ``cap`` are left out (weight 0)
  rather than truncated.

``level="turn"`` uses one weight per turn, the product of its tokens' ratios (SkyRL's
``tis_ratio_type="sequence"``, with a turn as the sequence, since a turn is the unit of credit).
"""

from __future__ import annotations

import torch

CORRECTIONS = ("none", "tis", "decoupled")
"""Off-policy corrections: the PPO ratio against the behaviour log-probs (``none``), or against the
proximal policy with a truncated (``tis``) or masked (``decoupled``) behaviour weight."""
IS_LEVELS = ("token", "turn")

#: Log-ratios are clamped here before ``exp`` (SkyRL's ``safe_exp_delta`` uses the same bound), so a
#: token the behaviour policy sampled at a vanishing probability cannot overflow the weight.
MAX_LOG_RATIO = 20.0


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def clipped_policy_loss(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
    clip: float = 0.2, weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO's clipped surrogate, averaged over masked tokens.

    ``advantages`` is per token (each token carries its turn's advantage). ``old_logprobs`` is the
    policy the ratio is clipped against (the behaviour policy, or the proximal one under an
    off-policy correction); ``weights`` (no gradient) multiply each token's surrogate, and the mean
    still runs over every masked token, as upstream (a token a weight of 0 leaves out still counts in
    the denominator).
    """
    log_ratio = (logprobs - old_logprobs) * mask
    ratio = torch.exp(log_ratio)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantages
    surrogate = torch.minimum(unclipped, clipped)
    if weights is not None:
        surrogate = surrogate * weights.detach()
    loss = -masked_mean(surrogate, mask)
    with torch.no_grad():
        clip_fraction = masked_mean(((ratio - 1.0).abs() > clip).float(), mask)
        approx_kl = masked_mean(ratio - 1.0 - log_ratio, mask)  # k3 estimator of KL(old || new)
    return loss, {"clip_fraction": float(clip_fraction), "approx_kl": float(approx_kl)}


def off_policy_weights(
    proximal: torch.Tensor, behaviour: torch.Tensor, mask: torch.Tensor, *, mode: str, level: str = "token",
    cap: float | None = 2.0, token_turn: torch.Tensor | None = None, num_turns: int = 0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Per-token behaviour weights ``pi_prox / pi_behav`` (no gradient) and their statistics.

    ``mode`` is ``tis`` (weights above ``cap`` are set to ``cap``) or ``decoupled`` (weights above
    ``cap`` are set to 0); ``cap=None`` leaves the weights as they are. ``level="turn"`` gives every
    token of a turn the product of the turn's token ratios; it needs ``token_turn`` (the turn index
    of each token) and ``num_turns``. Statistics are over masked tokens: ``is_ratio_mean``,
    ``is_ratio_max`` (of the raw weights) and ``is_clipped_fraction`` (tokens whose weight was
    capped or left out).
    """
    if mode not in ("tis", "decoupled"):
        raise ValueError(f"mode must be 'tis' or 'decoupled', got {mode!r}")
    if level not in IS_LEVELS:
        raise ValueError(f"level must be one of {', '.join(IS_LEVELS)}, got {level!r}")
    with torch.no_grad():
        log_ratio = (proximal - behaviour) * mask
        if level == "turn":
            if token_turn is None:
                raise ValueError("level='turn' needs token_turn and num_turns")
            per_turn = torch.zeros(num_turns, dtype=log_ratio.dtype, device=log_ratio.device)
            per_turn = per_turn.index_add(0, token_turn.flatten(), log_ratio.flatten())
            log_ratio = per_turn[token_turn] * mask
        raw = torch.exp(log_ratio.clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO))
        over = (raw > cap) if cap is not None else torch.zeros_like(raw, dtype=torch.bool)
        if mode == "tis":
            weights = raw.clamp(max=cap) if cap is not None else raw
        else:
            weights = torch.where(over, torch.zeros_like(raw), raw)
        trained = mask > 0
        stats = {
            "is_ratio_mean": float(masked_mean(raw, mask)),
            "is_ratio_max": float(raw[trained].max()) if bool(trained.any()) else 1.0,
            "is_clipped_fraction": float(masked_mean(over.float(), mask)),
        }
    return weights * mask, stats


def kl_to_reference(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Unbiased, non-negative k3 estimate of KL(policy || reference) per masked token, averaged."""
    log_ratio = ref_logprobs - logprobs
    return masked_mean(torch.exp(log_ratio) - log_ratio - 1.0, mask)


def value_loss(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Half squared error between predicted values and targets."""
    error = 0.5 * (values - returns) ** 2
    return error.mean() if mask is None else masked_mean(error, mask)
