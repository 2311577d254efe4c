"""``agentrl/Router-v0``: LLM routing with the Router-R1 protocol and reward.

Modules: ``router_r1`` (Router-R1's prompts, pool, prices and name parser), ``protocol`` (turn
cutting, actions and format rules), ``reward`` (EM/F1, cost normalisation, total), ``pool``
(candidate models), ``backends`` (OpenAI-compatible, transformers, replay), ``data`` (QA/FlashRAG/
Router-R1 loaders and the seven test sets), ``simulated`` (the offline generated tasks and pool),
``baselines`` (routers to compare against), ``routers`` (model routers run by Router-R1's own
generation loop), ``env`` (the environment).
"""

from agentrl.envs.router.data import QA_BENCHMARKS, QATask, load_benchmark, load_tasks
from agentrl.envs.router.pool import ModelPool, ModelSpec
from agentrl.envs.router.protocol import FORMAT_RULES, FormatCheck, check_format, cut_generation, first_action
from agentrl.envs.router.reward import CostNormalizer, exact_match, normalize_answer, router_r1_reward
from agentrl.envs.router.router_r1 import resolve_model_name, router_r1_pool, router_r1_prompt

__all__ = [
    "FORMAT_RULES",
    "QA_BENCHMARKS",
    "CostNormalizer",
    "FormatCheck",
    "ModelPool",
    "ModelSpec",
    "QATask",
    "check_format",
    "cut_generation",
    "exact_match",
    "first_action",
    "load_benchmark",
    "load_tasks",
    "normalize_answer",
    "resolve_model_name",
    "router_r1_pool",
    "router_r1_prompt",
    "router_r1_reward",
]
