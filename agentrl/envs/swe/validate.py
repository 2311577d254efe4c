"""The SWE-bench harness check for a task suite: the gold patch scores 1, the empty patch scores 0.

For every task, in fresh sandboxes of the chosen backend:

* gold patch: outcome 1 (every FAIL_TO_PASS and PASS_TO_PASS test passes);
* empty patch, tests run anyway: outcome 0, every FAIL_TO_PASS test fails and every PASS_TO_PASS
  test passes (so the tests really detect the bug, and only the bug).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from agentrl.envs.swe.grading import GradeResult, f2p_passes, grade, p2p_passes
from agentrl.envs.swe.tasks import SWETask, task_sandbox_config
from agentrl.sandboxes.backends import backend_class
from agentrl.sandboxes.base import Sandbox, SandboxConfig


@dataclass
class TaskValidation:
    instance_id: str
    backend: str
    gold: GradeResult | None = None
    empty: GradeResult | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "instance_id": self.instance_id, "backend": self.backend, "ok": self.ok, "problems": self.problems,
            "gold": self.gold.summary() if self.gold else None, "empty": self.empty.summary() if self.empty else None,
            "seconds": round(self.seconds, 3),
        }


def check_results(task: SWETask, gold: GradeResult, empty: GradeResult) -> list[str]:
    """What is wrong with a task, given its gold-patch and empty-patch grades (empty list: valid)."""
    problems = []
    if gold.outcome != 1.0:
        detail = gold.error or gold.apply_error or gold.tampered or gold.dropped or gold.summary()["failing_tests"]
        problems.append(f"gold patch scores {gold.outcome} ({gold.kind}): {detail}")
    if empty.outcome != 0.0:
        problems.append(f"empty patch scores {empty.outcome}")
    if empty.error:
        problems.append(f"the empty-patch run could not finish: {empty.error}")
    passing = [test for test, status in empty.fail_to_pass.items() if f2p_passes(status)]
    if passing:
        problems.append(f"FAIL_TO_PASS tests pass without the fix: {passing}")
    broken = [test for test, status in empty.pass_to_pass.items() if not p2p_passes(status)]
    if broken:
        problems.append(f"PASS_TO_PASS tests fail before the fix: {broken}")
    return problems


def validate_task(task: SWETask, new_sandbox: Callable[[SWETask], Sandbox], backend: str) -> TaskValidation:
    started = time.monotonic()
    report = TaskValidation(task.instance_id, backend)
    try:
        with new_sandbox(task) as sandbox:
            report.gold = grade(task, task.patch, sandbox)
        with new_sandbox(task) as sandbox:
            report.empty = grade(task, "", sandbox, run_tests_on_empty=True)
        report.problems = check_results(task, report.gold, report.empty)
    except Exception as exc:  # one broken task must not hide the others' results
        report.problems.append(f"{type(exc).__name__}: {exc}")
    report.seconds = time.monotonic() - started
    return report


def validate_tasks(tasks: Sequence[SWETask], backend: str, *, workers: int = 4, sandbox_config=None,
                   on_result: Callable[[TaskValidation], None] | None = None) -> list[TaskValidation]:
    """Validate every task on ``backend`` (``docker`` or ``local``), ``workers`` at a time."""
    cls = backend_class(backend)
    base = sandbox_config or SandboxConfig()

    def new_sandbox(task: SWETask) -> Sandbox:
        return cls(task_sandbox_config(task, base))

    def run(task: SWETask) -> TaskValidation:
        report = validate_task(task, new_sandbox, backend)
        if on_result is not None:
            on_result(report)
        return report

    with ThreadPoolExecutor(max_workers=max(1, workers)) as executor:
        return list(executor.map(run, tasks))
