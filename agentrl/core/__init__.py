"""The env contract and its checker, registry, trajectory types and the acting-policy protocol."""

from agentrl.core.actions import ActionFormat, ParsedTurn, extract_tag, extract_tags, split_actions
from agentrl.core.check import ContractError, check_text_env
from agentrl.core.config import ConfigError, build_config
from agentrl.core.env import STEP_INFO_KEYS, EpisodeEnd, RewardBounds, TextEnv, TextEnvConfig, Transition, TurnOutcome
from agentrl.core.policy import ActionOutput, Policy, PolicyInput, RandomPolicy, ReplayPolicy, ScriptedPolicy
from agentrl.core.registry import MissingExtraError, UnknownEnvError, list_envs, make, register
from agentrl.core.spaces import TextSpace
from agentrl.core.trajectory import Trajectory, TrajectoryBatch, Turn

__all__ = [
    "STEP_INFO_KEYS", "ActionFormat", "ActionOutput", "ConfigError", "ContractError", "EpisodeEnd",
    "MissingExtraError", "RewardBounds", "TurnOutcome", "check_text_env",
    "ParsedTurn", "Policy", "PolicyInput", "RandomPolicy", "ReplayPolicy", "ScriptedPolicy", "TextEnv",
    "TextEnvConfig", "TextSpace", "Trajectory", "TrajectoryBatch", "Transition", "Turn", "UnknownEnvError",
    "build_config", "extract_tag", "extract_tags", "list_envs", "make", "register", "split_actions",
]
