"""``agentrl/SWE-v0``: fix a bug in a repository inside a sandbox; graded by hidden tests.

Each episode puts one task's repository (SWE-bench format, :mod:`agentrl.envs.swe.tasks`) at its
base commit in a fresh sandbox. The agent acts with text tools (:mod:`agentrl.envs.swe.tools`:
``bash``, ``view``, ``str_replace``, ``create``, ``submit``). On ``submit`` its diff against the
base commit, taken with the harness's trusted git, is graded in *another* fresh sandbox
(:mod:`agentrl.envs.swe.grading`).

Reward components (names are a contract with the reward pipeline's G-RA preset):

* immediate, on every valid turn: ``format`` (a well-formed action), ``tool_success`` (the tool
  did what was asked), ``modification`` (the turn changed the repository's diff, which is not
  empty; test edits do not count), ``tests_run`` (the command's pytest sessions really ran tests,
  as the probe plugin reports, on a repository state not tested before);
* long-term, on the last turn: ``outcome`` (1 when every FAIL_TO_PASS and PASS_TO_PASS test
  passes) and ``outcome_level`` (the paper's levels, ``weight * level`` with level 0 no submit,
  1 empty patch, 2 tests fail, 3 resolved), which G-RA thresholds can gate on.

At the end ``info["outcome"]``, ``info["outcome_kind"]`` (``resolved``, ``tests_failed``,
``empty_patch``, ``no_submit``) and ``info["outcome_level"]`` are set, plus ``info["grading"]`` and
``info["test_edits"]`` (every path grading ignored, with the reasons in ``grading["dropped"]``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from agentrl.core.actions import ActionFormat
from agentrl.core.env import EpisodeEnd, RewardBounds, TextEnv, TextEnvConfig, Transition
from agentrl.envs.swe.expert import GoldPatchPolicy
from agentrl.envs.swe.gitops import current_diff
from agentrl.envs.swe.grading import OUTCOME_LEVELS, GradeResult, f2p_passes, grade, p2p_passes
from agentrl.envs.swe.patches import triage
from agentrl.envs.swe.tasks import SWEBENCH_IMAGE, SWETask, load_tasks, prepare_repo, task_sandbox_config
from agentrl.envs.swe.tools import ActionSyntaxError, ToolCall, ToolResult, parse_tool_call, run_tool
from agentrl.sandboxes.backends import BACKENDS, backend_class, resolve_backend
from agentrl.sandboxes.base import Sandbox, SandboxConfig, SandboxError, SessionDiedError
from agentrl.sandboxes.pool import SandboxPool, discard, shared_pool

#: The per-turn reward components (G-RA gates them on the outcome).
IMMEDIATE_COMPONENTS = ("format", "tool_success", "modification", "tests_run")
#: The last turn's components.
EPISODE_COMPONENTS = ("outcome", "outcome_level")


@dataclass
class SWERewards:
    """Reward weights; each is a finite number >= 0."""

    format: float = 0.05
    """Immediate: added on a turn whose action is well formed (malformed turns get ``format_penalty``)."""
    tool_success: float = 0.05
    """Immediate: added when the tool call succeeded (bash exit 0, file found, edit applied)."""
    modification: float = 0.1
    """Immediate: added when the turn changed the repository's diff and the diff is not empty
    (changes to test files do not count)."""
    tests_run: float = 0.1
    """Immediate: added when the command's pytest sessions ran at least one test (reported from
    inside pytest, not read from the command) on a repository state not tested before."""
    outcome: float = 1.0
    """Long-term: added on the last turn when the task is resolved."""
    outcome_level: float = 0.1
    """Long-term: ``outcome_level * level`` on the last turn, level 0 no submit, 1 empty patch,
    2 tests fail, 3 resolved (the G-RA paper's outcome levels; gate on them with a threshold of
    ``outcome_level * k``)."""

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"rewards.{item.name} must be a finite number >= 0, got {value!r}")

    @property
    def immediate_max(self) -> float:
        return self.format + self.tool_success + self.modification + self.tests_run

    @property
    def episode_max(self) -> float:
        return self.outcome + self.outcome_level * max(OUTCOME_LEVELS.values())


@dataclass
class SWEConfig(TextEnvConfig):
    max_turns: int = 30
    """Turn limit; reaching it ends the episode (``truncated``) with outcome ``no_submit``."""
    action_format: ActionFormat = field(default_factory=lambda: ActionFormat(separator="", max_actions=1))
    """One action per turn; no separator, since commands and code contain any text."""
    tasks: str = "builtin"
    """``builtin`` (``sandboxes/tasks``), a directory of task directories, or a SWE-bench JSONL file."""
    task_ids: tuple[str, ...] = ()
    """Only these instance ids (default: every task)."""
    image_template: str = SWEBENCH_IMAGE
    """Image of a JSONL task without an ``image`` field (``{instance_id}``, ``{docker_id}``)."""
    backend: str = "auto"
    """``docker``, ``local`` (bubblewrap) or ``auto`` (docker when an engine answers)."""
    sandbox: SandboxConfig = field(default_factory=lambda: SandboxConfig(timeout=30.0))
    """Sandbox resources; ``sandbox.timeout`` is the per-command timeout of ``bash``."""
    pool_size: int = 0
    """Warm sandboxes kept ready (shared by the envs of this process); 0 starts each one cold."""
    max_observation_chars: int = 6000
    """Longer tool output keeps its head and tail around a notice saying how much was cut."""
    grading_timeout: float = 300.0
    """Seconds allowed for the hidden tests."""
    autosubmit: bool = False
    """At the turn limit, grade the current diff instead of scoring ``no_submit``."""
    rewards: SWERewards = field(default_factory=SWERewards)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.task_ids = tuple(self.task_ids)
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown sandbox backend {self.backend!r}; valid backends: {', '.join(BACKENDS)}")
        if self.pool_size < 0 or self.max_observation_chars < 200:
            raise ValueError("pool_size must be >= 0 and max_observation_chars >= 200")


class SWEEnv(TextEnv):
    """Fix a bug in a repository inside a sandbox (see module docstring)."""

    Config = SWEConfig
    needs_reward_preset = True
    config: SWEConfig

    def __init__(self, config: SWEConfig | Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        tasks = load_tasks(self.config.tasks, image_template=self.config.image_template)
        if self.config.task_ids:
            by_id = {task.instance_id: task for task in tasks}
            unknown = [i for i in self.config.task_ids if i not in by_id]
            if unknown:
                raise ValueError(f"unknown task id(s) {unknown}; valid ids: {', '.join(sorted(by_id))}")
            tasks = [by_id[i] for i in self.config.task_ids]
        self.tasks: list[SWETask] = tasks
        self.task: SWETask | None = None
        self.sandbox: Sandbox | None = None
        self._pool: SandboxPool | None = None
        self._backend: str | None = None
        self._diff_key = self._tested_key = ""
        self._acted = self._submitted = self._finished = self._resolved = False
        self._graded_progress = 0.0

    # ------------------------------------------------------------------ sandboxes
    @property
    def backend(self) -> str:
        if self._backend is None:
            self._backend = resolve_backend(self.config.backend)
        return self._backend

    def _acquire(self, task: SWETask) -> tuple[Sandbox, SandboxPool | None]:
        config = task_sandbox_config(task, self.config.sandbox)
        cls = backend_class(self.backend)
        if self.config.pool_size and not task.image:
            key = (self.backend, repr(config))
            pool = shared_pool(key, lambda: cls(config), self.config.pool_size)
            return pool.acquire(), pool
        return cls(config).start(), None

    def _release(self) -> None:
        sandbox, pool, self.sandbox, self._pool = self.sandbox, self._pool, None, None
        if sandbox is not None:
            _give_back(sandbox, pool)

    def close(self) -> None:
        self._release()
        super().close()

    # ------------------------------------------------------------------ TextEnv hooks
    def reset_state(self, seed: int | None, options: Mapping[str, Any]) -> None:
        self._release()
        self.task = self._choose_task(options)
        self.sandbox, self._pool = self._acquire(self.task)
        try:
            prepare_repo(self.sandbox, self.task)
        except BaseException:
            self._release()
            raise
        self._diff_key, self._tested_key = _digest(""), ""
        self._acted = self._submitted = self._finished = self._resolved = False
        self._graded_progress = 0.0

    def _choose_task(self, options: Mapping[str, Any]) -> SWETask:
        if options.get("task_id"):
            for task in self.tasks:
                if task.instance_id == options["task_id"]:
                    return task
            raise ValueError(f"unknown task_id {options['task_id']!r}; valid ids: "
                             f"{', '.join(t.instance_id for t in self.tasks)}")
        if "task_index" in options:
            return self.tasks[int(options["task_index"]) % len(self.tasks)]
        return self.tasks[int(self.np_random.integers(len(self.tasks)))]

    def task_id_for(self, seed: int | None) -> str:
        return self.task.instance_id if self.task else super().task_id_for(seed)

    def step_action(self, action: str) -> Transition:
        try:
            call = parse_tool_call(action)
        except ActionSyntaxError as exc:
            return Transition(valid=False, message=str(exc))
        self._acted = True
        info = {"instance_id": self.task.instance_id, "tool": call.name}
        if call.name == "submit":
            self._submitted = True
            return Transition(reward_components=self._immediate(ToolResult(True, "")), terminated=True, info=info)
        result = self._run_tool(call)
        info["tool_ok"] = result.ok
        info["tests_ran"] = result.tests_ran
        message = f"{self._truncate(result.output).rstrip(chr(10))}\n(turn {self.turn} of {self.config.max_turns})"
        return Transition(reward_components=self._immediate(result), message=message, info=info)

    def _run_tool(self, call: ToolCall) -> ToolResult:
        assert self.sandbox is not None
        try:
            return run_tool(call, self.sandbox, timeout=self.sandbox.config.timeout)
        except SessionDiedError as exc:
            return ToolResult(False, f"Error: {exc}. {self._restart()}", changed_files=True)

    def _restart(self) -> str:
        """A new shell session after the old one died (files survive, cd/export state does not)."""
        try:
            self.sandbox.restart_session()
        except SandboxError as exc:
            return f"The sandbox could not start a new shell ({str(exc)[:200]}); submit what you have."
        return f"A new shell session was started in {self.task.workdir}; earlier cd/export state is lost, files are kept."

    def _immediate(self, result: ToolResult) -> dict[str, float]:
        rewards = self.config.rewards
        modified = result.changed_files and self._diff_changed()
        tested = result.tests_ran > 0 and self._tested_key != self._diff_key
        if tested:
            self._tested_key = self._diff_key
        return {
            "format": rewards.format,
            "tool_success": rewards.tool_success if result.ok else 0.0,
            "modification": rewards.modification if modified else 0.0,
            "tests_run": rewards.tests_run if tested else 0.0,
        }

    def _diff_changed(self) -> bool:
        """Did the (non-test) diff change since the last check, and is it non-empty?"""
        try:
            kept = triage(current_diff(self.sandbox, self.task.workdir, self.task.base_commit), self.task.test_files).kept
        except SessionDiedError:
            self._restart()
            return False
        except SandboxError:
            return False  # the agent broke its repository's git data; the outcome will say so
        key = _digest(kept)
        changed, self._diff_key = key != self._diff_key, key
        return changed and bool(kept.strip())

    def finish_episode(self, terminated: bool, truncated: bool) -> EpisodeEnd:
        """Grade the episode in a fresh sandbox: the outcome rewards, its kind and the grading details."""
        self._finished = True
        patch, error = "", ""
        try:
            patch = current_diff(self.sandbox, self.task.workdir, self.task.base_commit)
        except SandboxError as exc:  # e.g. the agent deleted .git, or its diff is over the size limit
            error = str(exc)[:500]
        finally:
            self._release()  # the agent's sandbox is done; grading never uses it
        if self._submitted or self.config.autosubmit:
            result = self._grade(patch)
        else:
            result = GradeResult(0.0, "no_submit", dropped=triage(patch, self.task.test_files).dropped)
        info = {"outcome": result.outcome, "outcome_kind": result.kind, "outcome_level": result.level,
                "grading": result.summary(), "test_edits": result.test_edits, "patch": patch,
                "instance_id": self.task.instance_id}
        if error:
            info["diff_error"] = error
        self._resolved = result.resolved
        self._graded_progress = _passed_fraction(result.fail_to_pass, f2p_passes) * \
            _passed_fraction(result.pass_to_pass, p2p_passes)
        rewards = self.config.rewards
        components = {"outcome": rewards.outcome * result.outcome, "outcome_level": rewards.outcome_level * result.level}
        return EpisodeEnd(reward_components=components, info=info, message=_outcome_text(result))

    def _grade(self, patch: str) -> GradeResult:
        try:
            grader, pool = self._acquire(self.task)
        except SandboxError as exc:
            return GradeResult(0.0, "tests_failed", error=f"no grader sandbox: {str(exc)[:500]}")
        try:
            return grade(self.task, patch, grader, timeout=self.config.grading_timeout)
        finally:
            _give_back(grader, pool)

    def _truncate(self, text: str) -> str:
        return truncate_middle(text, self.config.max_observation_chars)

    def render_text(self) -> str:
        """The task, until the agent's first valid action; afterwards the state is the repository
        itself, which the agent inspects with its tools (each turn's output and the turn count are
        messages)."""
        if self.task is None or self._acted:
            return ""
        return _task_text(self.task, self.config.max_turns)

    def format_error(self, reason: str) -> str:
        return f"{super().format_error(reason)}\n(turn {self.turn} of {self.config.max_turns})"

    def is_success(self) -> bool:
        return self._resolved

    def progress(self) -> float:
        """Once graded: the fraction of FAIL_TO_PASS tests that pass, times that of PASS_TO_PASS
        tests (a fix that breaks other tests is partial progress). Unknown before grading: 0."""
        return 1.0 if self._resolved else self._graded_progress

    def instructions(self) -> str:
        return INSTRUCTIONS.format(answer=self.config.action_format.instructions())

    def available_actions(self) -> None:
        return None

    def reward_bounds(self) -> RewardBounds:
        """Per turn: at least ``format_penalty`` (a malformed action earns only that; every weight is
        >= 0), at most every immediate weight plus, on the last turn, ``outcome`` and
        ``3 * outcome_level`` (resolved). Per episode: ``max_turns`` malformed turns at worst;
        every immediate weight on every turn plus the resolved outcome at best (``modification``
        and ``tests_run`` are paid only when the repository changed, so real returns stay far below)."""
        rewards, turns = self.config.rewards, self.config.max_turns
        low = min(self.config.format_penalty, 0.0)
        step_high = rewards.immediate_max + rewards.episode_max
        return RewardBounds(step=(low, step_high), episode=(turns * low, turns * rewards.immediate_max + rewards.episode_max))

    @classmethod
    def reward_preset(cls) -> list[dict[str, Any]]:
        """G-RA: the immediate rewards count only in resolved episodes (``outcome`` >= 1), while
        ``outcome`` and ``outcome_level`` (same priority, threshold 0) always count, so an unresolved
        episode still earns the paper's outcome level and nothing for farming edits or test runs.
        The immediate cap pays each immediate reward, per episode, at most what a direct fix earns
        (two well-formed, successful calls: an edit and ``submit``; one changed diff; two newly tested
        states: reproduce the failure, verify the fix), so stalling in a resolved episode earns
        nothing a direct fix does not. The caps are set at the default weights: scale them with the
        weights you change."""
        weights = SWERewards()
        caps = {"format": 2 * weights.format, "tool_success": 2 * weights.tool_success,
                "modification": weights.modification, "tests_run": 2 * weights.tests_run}
        return [
            {"type": "GatedRewardAccumulation", "priorities": {"outcome": 1, "outcome_level": 1},
             "thresholds": {"outcome": 1.0, "outcome_level": 0.0}, "immediate_cap": caps},
            {"type": "RewardHackingMonitor", "immediate_components": list(IMMEDIATE_COMPONENTS)},
        ]

    def expert_policy(self) -> GoldPatchPolicy:
        return GoldPatchPolicy({task.instance_id: task for task in self.tasks}, tag=self.config.action_format.answer_tag)


def _give_back(sandbox: Sandbox, pool: SandboxPool | None) -> None:
    """Hand a used sandbox back to its pool, or close it in the background."""
    if pool is not None:
        pool.release(sandbox)
    else:
        discard(sandbox)


def _passed_fraction(statuses: dict[str, str], passes) -> float:
    return sum(passes(status) for status in statuses.values()) / len(statuses) if statuses else 1.0


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def truncate_middle(text: str, limit: int) -> str:
    """``text`` if short enough, else its head and tail around a notice of how much was cut."""
    if len(text) <= limit:
        return text
    half = (limit - 100) // 2
    omitted = len(text) - 2 * half
    return f"{text[:half]}\n[... observation truncated: {omitted} characters omitted ...]\n{text[-half:]}"


def _task_text(task: SWETask, max_turns: int) -> str:
    return (
        f"Repository {task.repo} is checked out at {task.workdir}.\n\n<issue>\n{task.problem_statement.strip()}\n"
        f"</issue>\n\nFix the issue by changing the repository's code. Hidden tests decide the outcome; "
        f"changes to test files are ignored. You have {max_turns} turns; end with `submit`."
    )


def _outcome_text(result: GradeResult) -> str:
    summary = result.summary()
    text = {
        "resolved": "Submitted: resolved, every hidden test passes.",
        "tests_failed": f"Submitted: not resolved; failing hidden tests: {', '.join(summary['failing_tests']) or '-'}.",
        "empty_patch": "Submitted: no changes to the code, nothing to grade.",
        "no_submit": "Turn limit reached without submit.",
    }[result.kind]
    if result.apply_error:
        text += f" The patch did not apply: {result.apply_error[:300]}"
    if result.error:
        text += f" Grading could not finish: {result.error[:300]}"
    if result.tampered:
        text += f" The test run was tampered with: {'; '.join(result.tampered)[:300]}"
    if result.dropped:
        text += f" Changes grading ignored (test files, configuration, links...): {', '.join(list(result.dropped)[:20])}."
    return text


INSTRUCTIONS = """You are a software engineer fixing an issue in a Python repository inside a sandbox.
Each turn, run exactly one tool. The first word of the action names it:

bash COMMAND              run a shell command (the session persists: cd and export carry over)
view PATH [FIRST [LAST]]  show a file with line numbers (or list a directory)
str_replace PATH          replace text that occurs exactly once in the file:
<old>exact old text</old>
<new>new text</new>
create PATH               create or overwrite a file:
<content>file contents</content>
submit                    finish; your changes are graded by hidden tests

Example: <answer>bash
python3 -m pytest -q
</answer>
Paths are relative to the repository root. Long output is truncated. {answer}"""
