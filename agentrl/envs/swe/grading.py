"""Grading with SWE-bench semantics, on nothing the agent controls.

:func:`grade` takes the agent's patch and a *fresh* sandbox (never the one the agent used):

1. the repository is put at the base commit, and the harness's trusted git and programs are
   installed (:mod:`agentrl.envs.swe.gitops`, :mod:`agentrl.envs.swe.grader_runner`);
2. the patch is split per file (:mod:`agentrl.envs.swe.patches`); chunks that touch tests, test
   configuration, start-up files, packaging metadata, links, or that shadow a module, or whose paths
   cannot be read, are dropped and reported;
3. the rest is applied with the trusted git, and the paths that really changed are re-read: any
   path the kept chunks do not name is a failure; the official test patch goes on top, and the
   paths are checked again;
4. the FAIL_TO_PASS and PASS_TO_PASS tests run as the unprivileged agent uid through
   ``grader_runner.py``, whose plugin writes its own results file (with a nonce); the results are
   cross-checked with the process's exit status and the collected tests. The runner also reports
   tampering (pytest internals changed, a report that contradicts the exception the test raised,
   tracing or ``gc``/``ctypes`` use from patched code...), which makes the outcome 0.

A test passes as in SWE-bench (``PASSED`` or ``XFAIL``; a skipped PASS_TO_PASS test is maintained),
but stricter: an ``xfail`` or skip raised from code the patch wrote is not a pass, ``XFAIL`` needs the
test's own marker, and every test must be found. A task whose ``test_cmd`` is not a plain pytest
command falls back to SWE-bench's reading of the ``-rA`` log (the weaker channel; ``channel: "log"``).

Outcome kinds, in the order of :data:`OUTCOME_LEVELS`: ``no_submit`` (decided by the env),
``empty_patch`` (nothing left to apply), ``tests_failed`` (the patch does not apply, a test fails,
tampering, or grading could not finish), ``resolved``.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
import time
from dataclasses import dataclass, field

from agentrl.envs.swe.gitops import apply_patch, base_files, changed_paths
from agentrl.envs.swe.patches import triage
from agentrl.envs.swe.tasks import GRADER_RUNNER, SWETask, prepare_repo
from agentrl.sandboxes.base import Sandbox, SandboxError

OUTCOME_KINDS = ("resolved", "tests_failed", "empty_patch", "no_submit")
#: The paper's outcome levels (G-RA): no submit < empty patch < tests fail < tests pass.
OUTCOME_LEVELS = {"no_submit": 0, "empty_patch": 1, "tests_failed": 2, "resolved": 3}
#: Statuses that count as passing (``SKIPPED`` only for PASS_TO_PASS, as in SWE-bench).
PASSING = ("PASSED", "XFAIL")
#: SWE-bench's ``TestStatus`` values, the statuses its pytest log parser reads.
LOG_STATUSES = ("FAILED", "PASSED", "SKIPPED", "ERROR", "XFAIL")
_SKIP_COUNT = re.compile(r"^\[\d+\]$")
_PYTEST_COMMAND = re.compile(r"^\s*(?:(?P<python>\S*python[\w.]*)\s+-m\s+pytest|pytest|py\.test)(?P<args>(?:\s.*)?)$")
_SHELL_SYNTAX = re.compile(r"[;&|<>`$(){}\\\n]")
SUMMARY_HEADER = "short test summary info"
RESULTS_LIMIT = 16 << 20


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
    dropped: dict[str, str] = field(default_factory=dict)
    """Paths of the patch grading ignored, and why (test files, configuration, links...)."""
    apply_error: str = ""
    error: str = ""
    """Why grading could not finish (a broken grader sandbox, an official test patch that does not apply)."""
    tampered: list[str] = field(default_factory=list)
    """What the grader's runner caught the code under test doing (any entry makes the outcome 0)."""
    channel: str = ""
    """``plugin`` (the runner's own results file) or ``log`` (pytest's ``-rA`` summary)."""
    test_output: str = ""
    seconds: float = 0.0

    @property
    def resolved(self) -> bool:
        return self.kind == "resolved"

    @property
    def level(self) -> int:
        """The outcome level (:data:`OUTCOME_LEVELS`)."""
        return OUTCOME_LEVELS[self.kind]

    @property
    def test_edits(self) -> list[str]:
        """The dropped paths (test files and everything else grading ignored)."""
        return list(self.dropped)

    @property
    def tests_passed(self) -> bool:
        """Every FAIL_TO_PASS and PASS_TO_PASS test passed, and nothing was tampered with."""
        tests = [*self.fail_to_pass.values(), *self.pass_to_pass.values()]
        return bool(tests) and not self.tampered and all(f2p_passes(s) for s in self.fail_to_pass.values()) \
            and all(p2p_passes(s) for s in self.pass_to_pass.values())

    def summary(self) -> dict:
        failing = {k: v for k, v in self.fail_to_pass.items() if not f2p_passes(v)}
        failing.update({k: v for k, v in self.pass_to_pass.items() if not p2p_passes(v)})
        return {
            "outcome": self.outcome, "kind": self.kind, "level": self.level, "failing_tests": failing,
            "fail_to_pass_passed": sum(f2p_passes(v) for v in self.fail_to_pass.values()),
            "fail_to_pass_total": len(self.fail_to_pass), "test_edits": self.test_edits, "dropped": dict(self.dropped),
            "apply_error": self.apply_error, "error": self.error, "tampered": list(self.tampered),
            "channel": self.channel, "seconds": round(self.seconds, 3),
        }


def f2p_passes(status: str) -> bool:
    return status in PASSING


def p2p_passes(status: str) -> bool:
    return status in PASSING or status == "SKIPPED"


def resolve_case(case: str, statuses: dict[str, str]) -> str | None:
    """The status key of ``case``; ids truncated inside a parameter (more ``[`` than ``]``, a known
    defect of SWE-bench Verified's lists) match by prefix when every candidate agrees.

    Follows ``_resolve_case`` in SWE-bench's ``swebench/harness/grading.py`` (MIT licence).
    """
    if case in statuses:
        return case
    if case.count("[") > case.count("]"):
        matches = [key for key in statuses if key.startswith(case)]
        if matches and len({f2p_passes(statuses[key]) for key in matches}) == 1:
            return matches[0]
    return None


def parse_test_statuses(output: str) -> dict[str, str]:
    """Test id -> status from a pytest ``-rA`` log, as SWE-bench's ``parse_log_pytest`` reads it
    (``swebench/harness/log_parsers/python.py``, MIT licence): a line starting with a status gives
    ``status, id`` from its first two words (``FAILED`` lines drop ``" - "`` first), and ``SKIPPED [N]``
    count lines are not tests. Stricter in one way: only lines after the last summary header count,
    so that lines the code under test prints while it runs are ignored.

    Used only for tasks whose ``test_cmd`` is not a plain pytest command (the ``log`` channel).
    """
    statuses: dict[str, str] = {}
    header = output.rfind(SUMMARY_HEADER)
    if header >= 0:
        output = output[header:]
    for line in output.split("\n"):
        status = next((s for s in LOG_STATUSES if line.startswith(s)), None)
        if status is None:
            continue
        if status == "FAILED":
            line = line.replace(" - ", " ")
        words = line.split()
        if len(words) <= 1 or (status == "SKIPPED" and _SKIP_COUNT.match(words[1])):
            continue
        statuses[words[1]] = words[0]
    return statuses


def grade(
    task: SWETask, patch: str, sandbox: Sandbox, *, timeout: float = 300.0, run_tests_on_empty: bool = False,
) -> GradeResult:
    """Grade ``patch`` in ``sandbox``, which must be fresh and started (see module docstring).

    Never raises for anything in the patch: a grader that cannot finish gives ``tests_failed``
    with ``error`` set.
    """
    started = time.monotonic()
    result = GradeResult(0.0, "tests_failed")
    try:
        _grade(task, patch, sandbox, timeout, run_tests_on_empty, result)
    except (SandboxError, OSError, ValueError) as exc:
        result.outcome, result.kind, result.error = 0.0, "tests_failed", f"{type(exc).__name__}: {exc}"[:2000]
    result.seconds = time.monotonic() - started
    return result


def _grade(task: SWETask, patch: str, sandbox: Sandbox, timeout: float, run_tests_on_empty: bool,
           result: GradeResult) -> None:
    prepare_repo(sandbox, task)
    trusted = trusted_modules(sandbox, task)
    triaged = triage(patch, task.test_files, base_files=base_files(sandbox, task.workdir, task.base_commit),
                     trusted_modules=trusted)
    result.dropped = triaged.dropped
    if not triaged.kept.strip() and not run_tests_on_empty:
        result.kind = "empty_patch"
        return
    if triaged.kept.strip():
        result.apply_error = apply_patch(sandbox, task.workdir, triaged.kept) or \
            _undeclared(sandbox, task, set(triaged.kept_paths))
        if result.apply_error:
            return
    if task.test_patch.strip():
        official_error = apply_patch(sandbox, task.workdir, task.test_patch)
        if official_error:
            raise SandboxError(f"{task.instance_id}: the official test patch does not apply: {official_error}")
        result.apply_error = _undeclared(sandbox, task, set(triaged.kept_paths) | set(task.test_files))
        if result.apply_error:
            return
    statuses = run_tests(task, sandbox, timeout, triaged.kept_paths, result)
    result.fail_to_pass = {t: _status(t, statuses) for t in task.fail_to_pass}
    result.pass_to_pass = {t: _status(t, statuses) for t in task.pass_to_pass}
    if not triaged.kept.strip():
        result.kind = "empty_patch"
    else:
        result.kind = "resolved" if result.tests_passed else "tests_failed"
        result.outcome = 1.0 if result.resolved else 0.0


def _status(test: str, statuses: dict[str, str]) -> str:
    key = resolve_case(test, statuses)
    return statuses[key] if key is not None else "MISSING"


def _undeclared(sandbox: Sandbox, task: SWETask, allowed: set[str]) -> str:
    """A failure message when the working tree changed paths the applied patches do not name."""
    extra = sorted(set(changed_paths(sandbox, task.workdir, task.base_commit)) - allowed)
    return f"the patch changed paths it does not name: {extra[:10]}" if extra else ""


def trusted_modules(sandbox: Sandbox, task: SWETask) -> list[str]:
    """Top-level modules the grader's Python finds outside the repository (the shadowing rule)."""
    python = _pytest_parts(task.test_cmd)[0] if _pytest_parts(task.test_cmd) else "python3"
    command = f"{python} -I {GRADER_RUNNER} modules {shlex.quote(task.workdir)}"
    listed = sandbox.run(command, persist=False, timeout=120, output_limit=8 << 20)
    try:
        names = json.loads(listed.output.strip().splitlines()[-1]) if listed.ok else None
    except (ValueError, IndexError):
        names = None
    if not isinstance(names, list):
        raise SandboxError(f"could not list the grader's modules: {listed.output[-300:]}")
    return [str(name) for name in names]


def _pytest_parts(test_cmd: str) -> tuple[str, list[str]] | None:
    """``(python, pytest arguments)`` when ``test_cmd`` is a plain pytest command, else ``None``."""
    match = _PYTEST_COMMAND.match(test_cmd)
    if not match or _SHELL_SYNTAX.search(match.group("args") or ""):
        return None
    try:
        args = shlex.split(match.group("args") or "")
    except ValueError:
        return None
    return match.group("python") or "python3", args


def run_tests(task: SWETask, sandbox: Sandbox, timeout: float, patched: list[str], result: GradeResult) -> dict[str, str]:
    """Run the task's tests; test id -> status (see module docstring)."""
    files = [shlex.quote(f) for f in task.tests_to_run]
    parts = _pytest_parts(task.test_cmd)
    if parts is None:
        result.channel = "log"
        run = sandbox.run(f"cd {shlex.quote(task.workdir)} && {task.test_cmd} {' '.join(files)}", persist=False,
                          timeout=timeout, output_limit=4 << 20)
        result.test_output = run.output[-4000:]
        statuses = parse_test_statuses(run.output)
        if run.exit_code != 0 and statuses and not any(s in ("FAILED", "ERROR") for s in statuses.values()):
            result.tampered.append(f"the test command exited {run.exit_code} but its log reports no failure")
        return statuses
    result.channel = "plugin"
    python, args = parts
    tag = secrets.token_hex(8)
    results_path, patched_list = f"/tmp/.agentrl-results-{tag}.json", f"/tmp/.agentrl-patched-{tag}"
    sandbox.write_file(patched_list, "\0".join(patched))
    nonce = secrets.token_hex(16)
    command = (f"cd {shlex.quote(task.workdir)} && {python} -I {GRADER_RUNNER} run {results_path} "
               f"{shlex.quote(task.workdir)} {patched_list} -- {' '.join(shlex.quote(a) for a in args)} {' '.join(files)}")
    run = sandbox.run(command, persist=False, timeout=timeout, stdin=(nonce + "\n").encode(), output_limit=64 << 10)
    result.test_output = run.output[-4000:]
    return _read_results(sandbox, results_path, nonce, run, result)


def _read_results(sandbox: Sandbox, path: str, nonce: str, run, result: GradeResult) -> dict[str, str]:
    if run.killed:
        result.tampered.append(f"the test run was killed ({run.killed}); no verdict")
        return {}
    try:
        report = json.loads(sandbox.read_file(path, max_bytes=RESULTS_LIMIT))
    except (FileNotFoundError, SandboxError, ValueError) as exc:
        result.tampered.append(f"the grader's runner wrote no results (exit {run.exit_code}): {str(exc)[:200]}")
        return {}
    if not isinstance(report, dict) or report.get("nonce") != nonce:
        result.tampered.append("the results file does not carry this run's nonce")
        return {}
    statuses = {str(k): str(v) for k, v in (report.get("statuses") or {}).items()}
    result.tampered.extend(str(item) for item in report.get("tampered") or [])
    failures = any(s in ("FAILED", "ERROR") for s in statuses.values())
    if report.get("exit") != run.exit_code:
        result.tampered.append(f"the runner recorded exit {report.get('exit')} but the process exited {run.exit_code}")
    elif (run.exit_code == 0 and failures) or (run.exit_code == 1 and not failures):
        result.tampered.append(f"exit status {run.exit_code} disagrees with the recorded statuses")
    if report.get("collected", -1) < len(statuses):
        result.tampered.append(f"{len(statuses)} tests reported but {report.get('collected')} collected")
    return statuses
