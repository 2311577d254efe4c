"""The env contract, registry, trajectory types, policy protocol and rollout loop."""

from agentrl.core.actions import ActionFormat, ParsedTurn, extract_tag, extract_tags, split_actions
from agentrl.core.config import ConfigError, build_config
from agentrl.core.env import STEP_INFO_KEYS, TextEnv, TextEnvConfig, Transition
from agentrl.core.policy import ActionOutput, Policy, PolicyInput, RandomPolicy, ReplayPolicy, ScriptedPolicy
from agentrl.core.registry import MissingExtraError, UnknownEnvError, list_envs, make, register
from agentrl.core.rollout import EpisodeSpec, grouped_specs, run_episodes
from agentrl.core.spaces import TextSpace
from agentrl.core.trajectory import Trajectory, TrajectoryBatch, Turn

__all__ = [
    "STEP_INFO_KEYS", "ActionFormat", "ActionOutput", "ConfigError", "EpisodeSpec", "MissingExtraError",
    "ParsedTurn", "Policy", "PolicyInput", "RandomPolicy", "ReplayPolicy", "ScriptedPolicy", "TextEnv",
    "TextEnvConfig", "TextSpace", "Trajectory", "TrajectoryBatch", "Transition", "Turn", "UnknownEnvError",
    "build_config", "extract_tag", "extract_tags", "grouped_specs", "list_envs", "make", "register",
    "run_episodes", "split_actions",
]
