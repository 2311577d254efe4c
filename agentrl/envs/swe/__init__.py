"""``agentrl/SWE-v0``: SWE-bench style bug fixing in sandboxes, with hacking-proof grading."""

from agentrl.envs.swe.env import SWEConfig, SWEEnv, SWERewards
from agentrl.envs.swe.expert import GoldPatchPolicy
from agentrl.envs.swe.grading import OUTCOME_LEVELS, GradeResult, grade, parse_test_statuses
from agentrl.envs.swe.patches import is_test_path, path_reason, split_patch, triage
from agentrl.envs.swe.tasks import SWETask, load_jsonl, load_task_dir, load_tasks, prepare_repo
from agentrl.envs.swe.tools import ToolCall, parse_tool_call

__all__ = [
    "OUTCOME_LEVELS",
    "GoldPatchPolicy",
    "GradeResult",
    "SWEConfig",
    "SWEEnv",
    "SWERewards",
    "SWETask",
    "ToolCall",
    "grade",
    "is_test_path",
    "load_jsonl",
    "load_task_dir",
    "load_tasks",
    "parse_test_statuses",
    "parse_tool_call",
    "path_reason",
    "prepare_repo",
    "split_patch",
    "triage",
]
