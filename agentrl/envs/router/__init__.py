"""``agentrl/Router-v0``: LLM routing with the Router-R1 protocol and reward.

Modules: ``protocol`` (tags and format rules), ``reward`` (EM/F1, cost normalisation, total),
``pool`` (candidate models), ``backends`` (OpenAI-compatible, transformers, replay), ``data``
(QA/FlashRAG/Router-R1 loaders), ``simulated`` (the offline generated tasks and pool), ``baselines``
(routers to compare against), ``env`` (the environment).
"""

from agentrl.envs.router.data import QATask, load_tasks
from agentrl.envs.router.pool import ModelPool, ModelSpec
from agentrl.envs.router.protocol import FORMAT_RULES, FormatCheck, check_format
from agentrl.envs.router.reward import CostNormalizer, exact_match, normalize_answer, router_r1_reward

__all__ = [
    "FORMAT_RULES",
    "CostNormalizer",
    "FormatCheck",
    "ModelPool",
    "ModelSpec",
    "QATask",
    "check_format",
    "exact_match",
    "load_tasks",
    "normalize_answer",
    "router_r1_reward",
]
