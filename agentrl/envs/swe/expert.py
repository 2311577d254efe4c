"""An oracle for ``agentrl/SWE-v0``: apply the task's gold patch, then submit.

It reaches outcome 1 on every valid task, which makes it the reference point for ``agentrl eval``
and a check that the env, the sandbox and the grader agree.
"""

from __future__ import annotations

from collections.abc import Mapping

from agentrl.core.policy import PolicyInput, ScriptedPolicy, wrap_answer
from agentrl.envs.swe.tasks import SWETask

PATCH_END = "AGENTRL_GOLD_PATCH_END"


def apply_patch_action(patch: str, workdir: str = "/testbed") -> str:
    """A ``bash`` action that applies ``patch`` with ``git apply`` (a quoted heredoc: no expansion)."""
    body = patch if patch.endswith("\n") else patch + "\n"
    return f"bash\ncd {workdir} && git apply --whitespace=nowarn <<'{PATCH_END}'\n{body}{PATCH_END}"


class GoldPatchPolicy(ScriptedPolicy):
    """Turn 1: apply the gold patch. Turn 2: submit."""

    def __init__(self, tasks: Mapping[str, SWETask], tag: str | None = "answer") -> None:
        self.tasks = dict(tasks)
        self.tag = tag
        super().__init__(self._choose)

    def _choose(self, item: PolicyInput) -> str:
        if item.history:
            return wrap_answer("submit", self.tag)
        task = self.tasks[item.info["task_id"]]
        return wrap_answer(apply_patch_action(task.patch, task.workdir), self.tag)
