"""A trained run rebuilt from a checkpoint: its config, its agent with the checkpoint's weights, and
its acting policy (``checkpoint:DIR`` policies, ``agentrl eval``, ``agentrl export``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agentrl.core.config import ConfigError
from agentrl.core.policy import Policy
from agentrl.train.agents import Agent
from agentrl.train.build import build_agent, resolve_device
from agentrl.train.checkpoint import load_checkpoint, read_meta, resolve_checkpoint
from agentrl.train.config import TrainConfig, load_config
from agentrl.train.rollouts import make_envs


@dataclass
class RestoredRun:
    checkpoint: Path
    iteration: int
    config: TrainConfig
    agent: Agent


def checkpoint_config(checkpoint: str | Path) -> TrainConfig:
    """The config a checkpoint was trained with: stored in its ``meta.json`` (older checkpoints name
    the run's ``config.yaml`` instead)."""
    checkpoint = resolve_checkpoint(checkpoint)
    stored = read_meta(checkpoint).get("config")
    if isinstance(stored, dict):
        return load_config(stored)
    run_config = checkpoint.parent.parent / "config.yaml"  # OUTPUT/checkpoints/NAME
    if run_config.exists():
        return load_config(run_config)
    if isinstance(stored, str) and Path(stored).exists():
        return load_config(stored)
    raise ConfigError(f"checkpoint {checkpoint} records no config, and {run_config} is missing")


def restore_run(path: str | Path, *, device: str | None = None) -> RestoredRun:
    """The agent of a trained run with the weights of the checkpoint ``path`` names."""
    checkpoint = resolve_checkpoint(path)
    config = checkpoint_config(checkpoint)
    state, meta = load_checkpoint(checkpoint)
    probe = make_envs(config, 1)[0]
    try:
        agent = build_agent(config, probe, resolve_device(device or config.run.device))
    finally:
        probe.close()
    agent.load_state_dict(state["agent"])
    return RestoredRun(checkpoint, int(meta["iteration"]), config, agent)


def policy_from_checkpoint(path: str | Path, *, seed: int = 0) -> Policy:
    """The acting policy of a trained run, as its own evaluation used it (greedy or sampling per
    ``eval.greedy``): the run's config rebuilds the agent, and the checkpoint's weights load into it."""
    run = restore_run(path)  # loading the weights syncs them into the acting policy
    return run.agent.policy.evaluation_view(greedy=run.config.eval.greedy, seed=seed)
