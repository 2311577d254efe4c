"""Sokoban: procedural rooms, XSB levels, an exact solver and the text environment."""

from agentrl.envs.sokoban.env import SokobanConfig, SokobanEnv, SokobanRewards
from agentrl.envs.sokoban.expert import SolverPolicy
from agentrl.envs.sokoban.generator import GeneratorConfig, generate_room
from agentrl.envs.sokoban.level import Level, LevelFormatError, load_levels, parse_xsb, parse_xsb_file
from agentrl.envs.sokoban.solver import SolveResult, solve

__all__ = [
    "GeneratorConfig",
    "Level",
    "LevelFormatError",
    "SokobanConfig",
    "SokobanEnv",
    "SokobanRewards",
    "SolveResult",
    "SolverPolicy",
    "generate_room",
    "load_levels",
    "parse_xsb",
    "parse_xsb_file",
    "solve",
]
