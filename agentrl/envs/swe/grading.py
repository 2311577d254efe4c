"""Hacking-proof grading with SWE-bench semantics.

:func:`grade` takes the agent's patch and a *fresh* sandbox (never the one the agent used):

1. the repository is put at the base commit;
2. the agent's changes to test files are removed from the patch and reported (they never count):
   files the official test patch touches, anything under a ``tests``/``test`` directory,
   ``test_*.py``/``*_test.py``, ``conftest.py``, and (by default) test configuration and
   interpreter start-up hooks (``pytest.ini``, ``tox.ini``, ``setup.cfg``, ``pyproject.toml``,
   ``sitecustomize.py``, ``usercustomize.py``, ``*.pth``);
3. the rest of the patch is applied, then the official test patch on top;
4. the FAIL_TO_PASS and PASS_TO_PASS tests run; the outcome is 1 when every one of them passes.

The code under test still runs inside pytest's process, as in SWE-bench: grading shuts out test,
configuration and start-up files, and status lines printed before pytest's own summary, but not
code written to tamper with pytest from the inside.

Outcome kinds: ``resolved``, ``tests_failed`` (the patch does not apply, or a test fails),
``empty_patch`` (nothing left after removing test edits) and ``no_submit`` (decided by the env).
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from agentrl.envs.swe.tasks import SWETask, patch_files, prepare_repo
from agentrl.sandboxes.base import Sandbox, SandboxError

OUTCOME_KINDS = ("resolved", "tests_failed", "empty_patch", "no_submit")
TEST_DIRS = ("tests", "test", "testing")
TEST_FILE_PATTERNS = ("test_*.py", "*_test.py", "conftest.py")
CONFIG_FILE_PATTERNS = ("pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml", "sitecustomize.py",
                        "usercustomize.py", "*.pth")
_STATUS = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED)\s+(.+)$")
_DIFF_HEADER = re.compile(r"^diff --git ", re.MULTILINE)
SUMMARY_HEADER = "short test summary info"


@dataclass
class GradeResult:
    """What grading found (``info["grading"]`` holds :meth:`summary`)."""

    outcome: float
    """1.0 when every FAIL_TO_PASS and PASS_TO_PASS test passes, else 0.0."""
    kind: str
    """One of :data:`OUTCOME_KINDS`."""
    fail_to_pass: dict[str, str] = field(default_factory=dict)
    """Status of each FAIL_TO_PASS test (``PASSED``, ``FAILED``, ``ERROR``, ``MISSING``...)."""
    pass_to_pass: dict[str, str] = field(default_factory=dict)
    test_edits: list[str] = field(default_factory=list)
    """Test files the agent's patch changed; these changes were dropped."""
    apply_error: str = ""
    test_output: str = ""
    seconds: float = 0.0

    @property
    def resolved(self) -> bool:
        return self.kind == "resolved"

    @property
    def tests_passed(self) -> bool:
        """Every FAIL_TO_PASS and PASS_TO_PASS test passed, whatever the patch was."""
        statuses = [*self.fail_to_pass.values(), *self.pass_to_pass.values()]
        return bool(statuses) and all(status == "PASSED" for status in statuses)

    def summary(self) -> dict:
        failing = {k: v for k, v in {**self.fail_to_pass, **self.pass_to_pass}.items() if v != "PASSED"}
        return {
            "outcome": self.outcome, "kind": self.kind, "failing_tests": failing,
            "fail_to_pass_passed": sum(v == "PASSED" for v in self.fail_to_pass.values()),
            "fail_to_pass_total": len(self.fail_to_pass), "test_edits": list(self.test_edits),
            "apply_error": self.apply_error, "seconds": round(self.seconds, 3),
        }


def is_test_path(path: str, official_test_files: list[str] | tuple[str, ...] = (), *, config_files: bool = True) -> bool:
    """Whether a change to ``path`` must be ignored by grading (see module docstring)."""
    pure = PurePosixPath(path)
    if path in official_test_files or any(part in TEST_DIRS for part in pure.parts[:-1]):
        return True
    patterns = TEST_FILE_PATTERNS + (CONFIG_FILE_PATTERNS if config_files else ())
    return any(fnmatch.fnmatch(pure.name, pattern) for pattern in patterns)


def split_patch(patch: str) -> list[str]:
    """A git diff cut into one chunk per file."""
    starts = [m.start() for m in _DIFF_HEADER.finditer(patch)]
    return [patch[a:b] for a, b in zip(starts, starts[1:] + [len(patch)])]


def remove_test_edits(patch: str, task: SWETask, *, config_files: bool = True) -> tuple[str, list[str]]:
    """The patch without its test-file chunks, and the test files it touched."""
    official = task.test_files
    kept, dropped = [], []
    for chunk in split_patch(patch):
        paths = patch_files(chunk)
        if any(is_test_path(p, official, config_files=config_files) for p in paths):
            dropped.extend(p for p in paths if p not in dropped)
        else:
            kept.append(chunk)
    return "".join(kept), dropped


def parse_test_statuses(output: str) -> dict[str, str]:
    """Test id -> status from pytest's ``-rA`` short summary (the SWE-bench pytest log parser).

    Only lines after the last summary header count, so that code under test cannot forge a
    status by printing ``PASSED tests/...`` while it runs.
    """
    statuses: dict[str, str] = {}
    header = output.rfind(SUMMARY_HEADER)
    if header >= 0:
        output = output[header:]
    for line in output.splitlines():
        match = _STATUS.match(line.strip())
        if not match:
            continue
        status, rest = match.groups()
        if status in ("FAILED", "ERROR"):
            rest = rest.split(" - ", 1)[0]
        statuses[rest.strip()] = status
    return statuses


def grade(
    task: SWETask, patch: str, sandbox: Sandbox, *, timeout: float = 300.0,
    run_tests_on_empty: bool = False, config_files: bool = True,
) -> GradeResult:
    """Grade ``patch`` in ``sandbox``, which must be fresh and started (see module docstring)."""
    started = time.monotonic()
    kept, test_edits = remove_test_edits(patch, task, config_files=config_files)
    if not kept.strip() and not run_tests_on_empty:
        return GradeResult(0.0, "empty_patch", test_edits=test_edits, seconds=time.monotonic() - started)
    prepare_repo(sandbox, task)
    apply_error = _apply(sandbox, task, kept) if kept.strip() else ""
    if apply_error:
        return GradeResult(0.0, "tests_failed", test_edits=test_edits, apply_error=apply_error,
                           seconds=time.monotonic() - started)
    official_error = _apply(sandbox, task, task.test_patch) if task.test_patch.strip() else ""
    if official_error:
        raise SandboxError(f"{task.instance_id}: the official test patch does not apply: {official_error}")
    files = " ".join(shlex.quote(f) for f in task.tests_to_run)
    run = sandbox.run(f"cd {shlex.quote(task.workdir)} && {task.test_cmd} {files}", persist=False,
                      timeout=timeout, output_limit=4 << 20)
    statuses = parse_test_statuses(run.output)
    f2p = {test: statuses.get(test, "MISSING") for test in task.fail_to_pass}
    p2p = {test: statuses.get(test, "MISSING") for test in task.pass_to_pass}
    result = GradeResult(0.0, "empty_patch", f2p, p2p, test_edits, test_output=run.output[-4000:])
    if kept.strip():
        result.kind = "resolved" if result.tests_passed else "tests_failed"
        result.outcome = 1.0 if result.resolved else 0.0
    result.seconds = time.monotonic() - started
    return result


def _apply(sandbox: Sandbox, task: SWETask, patch: str) -> str:
    """Apply a patch (fed to ``git apply`` on stdin); returns the error text, or "" on success."""
    text = patch if patch.endswith("\n") else patch + "\n"
    result = sandbox.run(f"cd {shlex.quote(task.workdir)} && git apply --whitespace=nowarn",
                         stdin=text.encode("utf-8", "surrogateescape"), persist=False, timeout=120)
    return "" if result.ok else (result.output.strip() or f"git apply exited with {result.exit_code}")
