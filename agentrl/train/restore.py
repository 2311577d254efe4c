"""A trained run's acting policy, rebuilt from its config and checkpoint (``checkpoint:DIR`` policies)."""

from __future__ import annotations

from pathlib import Path

from agentrl.core.policy import Policy
from agentrl.train.build import build_agent, resolve_device
from agentrl.train.checkpoint import load_checkpoint, resolve_checkpoint
from agentrl.train.config import load_config
from agentrl.train.rollouts import make_envs


def policy_from_checkpoint(path: str | Path, *, seed: int = 0) -> Policy:
    """The acting policy of a trained run, as its own evaluation used it (greedy or sampling per
    ``eval.greedy``): the run's config rebuilds the agent, and the checkpoint's weights load into it."""
    checkpoint = resolve_checkpoint(path)
    state, meta = load_checkpoint(checkpoint)
    config_file = checkpoint.parent.parent / "config.yaml"  # OUTPUT/checkpoints/NAME
    config = load_config(config_file if config_file.exists() else meta["config"])
    probe = make_envs(config, 1)[0]
    try:
        agent = build_agent(config, probe, resolve_device(config.run.device))
    finally:
        probe.close()
    agent.load_state_dict(state["agent"])
    return agent.policy.evaluation_view(greedy=config.eval.greedy, seed=seed)
