"""Reward pipeline: composable stages between the environments and the learner.

Each stage transforms a ``TrajectoryBatch``, writing named per-turn fields and never the env's raw
rewards:

* :class:`GatedRewardAccumulation` (G-RA) -- immediate rewards count only when long-term ones pass
  their thresholds; writes ``gra``, ``dra`` and ``reward``.
* :class:`ImplicitPRM` (OPRL) -- implicit process rewards from a PRM trained online by trajectory
  DPO; writes ``prm`` and ``step_reward``.
* :class:`CALMCredit` (CALM) -- a judge's subgoal verdicts become an auxiliary reward; writes
  ``calm`` and adds it to ``reward``.
* :class:`AutoDiscountSchedule` (ADS) -- a per-turn discount from an adaptive progress horizon;
  writes ``gamma``.
* :class:`RewardHackingMonitor` -- correlations of proxy rewards with success, trend alerts.

:class:`RewardPipeline` chains them, round-trips through config, gathers state, and ships one preset
per env (``RewardPipeline.preset("agentrl/Sokoban-v0")``).
"""

from agentrl.rewards.ads import AutoDiscountSchedule
from agentrl.rewards.base import RewardStage
from agentrl.rewards.calm import CALMCredit
from agentrl.rewards.gra import GatedRewardAccumulation
from agentrl.judges import (
    HFJudge,
    Judge,
    JudgeError,
    OpenAIJudge,
    OracleJudge,
    UnparseableReply,
    make_judge,
)
from agentrl.rewards.monitors import RewardHackingMonitor, RewardHackingWarning
from agentrl.rewards.oprl import ImplicitPRM
from agentrl.rewards.pipeline import RewardPipeline
from agentrl.rewards.stages import register_stage

__all__ = [
    "AutoDiscountSchedule",
    "CALMCredit",
    "GatedRewardAccumulation",
    "HFJudge",
    "ImplicitPRM",
    "Judge",
    "JudgeError",
    "OpenAIJudge",
    "OracleJudge",
    "RewardHackingMonitor",
    "RewardHackingWarning",
    "RewardPipeline",
    "RewardStage",
    "UnparseableReply",
    "make_judge",
    "register_stage",
]
