"""SWE tasks in the SWE-bench instance format, and how a sandbox is put at a task's base commit.

Sources:

* the built-in suite, ``sandboxes/tasks/<instance_id>/`` (``task.json``, ``repo/`` at the base
  commit, ``gold.patch``, ``test.patch``): the repository is committed once on the host (``git``
  with a fixed identity and dates, so the hash is reproducible) and uploaded, history included,
  into the base image as one archive;
* SWE-bench / SWE-Gym style JSONL (one instance per line), whose repositories are already inside
  per-instance images (``image_template``), as the official harness builds them.

Record fields: ``instance_id, repo, base_commit, problem_statement, patch, test_patch,
FAIL_TO_PASS, PASS_TO_PASS`` (lists, or JSON-encoded lists as on the Hugging Face hub), plus the
optional ``image``, ``setup`` (shell commands run in the session before the episode, e.g. activating
an environment), ``test_cmd`` and ``hints_text``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shlex
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from agentrl.core.config import ConfigError
from agentrl.core.jsonl import read_jsonl
from agentrl.envs.swe.gitops import trusted_git_files
from agentrl.envs.swe.patches import patch_paths
from agentrl.sandboxes.base import TRUSTED_DIR, Sandbox, SandboxConfig, SandboxError
from agentrl.sandboxes.images import sandboxes_dir

DEFAULT_TEST_CMD = "python3 -m pytest -rA -p no:cacheprovider --tb=short"
#: SWE-bench's image names: ``swebench/sweb.eval.x86_64.<id with __ as _1776_>:latest``.
SWEBENCH_IMAGE = "swebench/sweb.eval.x86_64.{docker_id}:latest"
#: SWE-bench images keep the repository's environment in a conda env named ``testbed``.
SWEBENCH_SETUP = ("source /opt/miniconda3/bin/activate testbed",)
#: Fixed identity and dates make the built-in tasks' base commits reproducible, byte for byte.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "agentrl", "GIT_AUTHOR_EMAIL": "tasks@agentrl.invalid",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000", "GIT_COMMITTER_NAME": "agentrl",
    "GIT_COMMITTER_EMAIL": "tasks@agentrl.invalid", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000",
}
#: Where the harness's in-sandbox programs live (read-only to the agent), and how the agent's own
#: pytest runs load the probe that reports how many tests really ran (``tests_run``).
PROBE_DIR = f"{TRUSTED_DIR}/probe"
GRADER_RUNNER = f"{TRUSTED_DIR}/grader/grader_runner.py"
PROBE_ENV = {"PYTHONPATH": PROBE_DIR, "PYTEST_PLUGINS": "agentrl_probe"}


@dataclass
class SWETask:
    """One task instance (SWE-bench fields, snake_cased)."""

    instance_id: str
    repo: str
    base_commit: str
    problem_statement: str
    patch: str = ""
    """The gold patch (never shown to the agent)."""
    test_patch: str = ""
    """The official tests, applied at grading time on top of the agent's patch."""
    fail_to_pass: list[str] = field(default_factory=list)
    pass_to_pass: list[str] = field(default_factory=list)
    image: str = ""
    """Docker image holding the repository at ``workdir``; empty: the base image plus ``source_dir``."""
    setup: list[str] = field(default_factory=list)
    """Shell commands run in the agent's session (and the grader's) before anything else."""
    test_cmd: str = DEFAULT_TEST_CMD
    """Test runner; the test files are appended. Its output must be pytest's ``-rA`` summary."""
    source_dir: str = ""
    """Host directory with the repository at ``base_commit`` (built-in tasks)."""
    workdir: str = "/testbed"
    hints_text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    """Other fields of the record, kept verbatim (``bug_kind``, ``version``, ...)."""

    @property
    def test_files(self) -> list[str]:
        """Files the official test patch touches."""
        return patch_paths(self.test_patch)

    @property
    def tests_to_run(self) -> list[str]:
        """Test files of every FAIL_TO_PASS and PASS_TO_PASS test, in order."""
        return list(dict.fromkeys(test.split("::", 1)[0] for test in self.fail_to_pass + self.pass_to_pass))

    @classmethod
    def from_record(cls, record: Mapping[str, Any], *, image_template: str = "", setup: Iterable[str] = ()) -> SWETask:
        missing = [key for key in ("instance_id", "repo", "base_commit", "problem_statement") if not record.get(key)]
        if missing:
            raise ValueError(f"task record {record.get('instance_id', '?')!r} lacks {', '.join(missing)}")
        known = {"instance_id", "repo", "base_commit", "problem_statement", "patch", "test_patch", "FAIL_TO_PASS",
                 "PASS_TO_PASS", "image", "setup", "test_cmd", "hints_text", "workdir"}
        instance_id = str(record["instance_id"])
        image = record.get("image") or (image_template.format(instance_id=instance_id, docker_id=docker_id(instance_id))
                                        if image_template else "")
        task_setup = record.get("setup")
        return cls(
            instance_id=instance_id, repo=str(record["repo"]), base_commit=str(record["base_commit"]),
            problem_statement=str(record["problem_statement"]), patch=record.get("patch") or "",
            test_patch=record.get("test_patch") or "", fail_to_pass=_test_list(record.get("FAIL_TO_PASS")),
            pass_to_pass=_test_list(record.get("PASS_TO_PASS")), image=image,
            setup=[task_setup] if isinstance(task_setup, str) else list(task_setup if task_setup is not None else setup),
            test_cmd=record.get("test_cmd") or DEFAULT_TEST_CMD, workdir=record.get("workdir") or "/testbed",
            hints_text=record.get("hints_text") or "", extra={k: v for k, v in record.items() if k not in known},
        )

    def to_record(self) -> dict[str, Any]:
        """The SWE-bench record (the form :func:`load_jsonl` reads)."""
        record = {
            "instance_id": self.instance_id, "repo": self.repo, "base_commit": self.base_commit,
            "problem_statement": self.problem_statement, "hints_text": self.hints_text, "patch": self.patch,
            "test_patch": self.test_patch, "FAIL_TO_PASS": list(self.fail_to_pass),
            "PASS_TO_PASS": list(self.pass_to_pass), "image": self.image, "setup": list(self.setup),
            "test_cmd": self.test_cmd, "workdir": self.workdir,
        }
        return {**self.extra, **record}


def docker_id(instance_id: str) -> str:
    """SWE-bench's image-name form of an instance id (``django__django-11099`` -> ``django_1776_django-11099``)."""
    return instance_id.replace("__", "_1776_").lower()


def _test_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = json.loads(value) if value.strip().startswith("[") else [value]
    return [str(item) for item in value]


# ---------------------------------------------------------------------------------- loading
def builtin_tasks_dir() -> Path:
    return sandboxes_dir() / "tasks"


def load_task_dir(path: str | Path) -> SWETask:
    """One built-in style task directory."""
    path = Path(path)
    record = json.loads((path / "task.json").read_text(encoding="utf-8"))
    for key, name in (("patch", "gold.patch"), ("test_patch", "test.patch")):
        if not record.get(key) and (path / name).is_file():
            record[key] = (path / name).read_text(encoding="utf-8")
    task = SWETask.from_record(record)
    if (path / "repo").is_dir() and not task.image:
        task.source_dir = str(path / "repo")
    return task


def load_tasks(source: str = "builtin", *, image_template: str = SWEBENCH_IMAGE,
               setup: Iterable[str] = SWEBENCH_SETUP) -> list[SWETask]:
    """``"builtin"``, a directory of task directories, or a JSONL file; sorted by instance id."""
    if source == "builtin":
        return load_task_dirs(builtin_tasks_dir())
    path = Path(source)
    if path.is_dir():
        return load_task_dirs(path)
    if path.is_file():
        return load_jsonl(path, image_template=image_template, setup=setup)
    raise FileNotFoundError(f"no SWE tasks at {source!r}: use 'builtin', a JSONL file or a directory of tasks")


def load_task_dirs(root: Path) -> list[SWETask]:
    tasks = [load_task_dir(entry) for entry in sorted(root.iterdir()) if (entry / "task.json").is_file()]
    if not tasks:
        raise FileNotFoundError(f"no task directories (with task.json) under {root}")
    return tasks


def load_jsonl(path: str | Path, *, image_template: str = SWEBENCH_IMAGE,
               setup: Iterable[str] = SWEBENCH_SETUP) -> list[SWETask]:
    """SWE-bench / SWE-Gym JSONL. ``image_template`` may use ``{instance_id}`` and ``{docker_id}``."""
    tasks = []
    for number, record in read_jsonl(path, error=ConfigError):  # a malformed file is the user's to fix
        if not isinstance(record, dict):
            raise ConfigError(f"{path}:{number}: expected a SWE-bench record (a JSON object), got {record!r:.60}")
        try:
            tasks.append(SWETask.from_record(record, image_template=image_template, setup=setup))
        except ValueError as exc:
            raise ConfigError(f"{path}:{number}: {exc}") from exc
    return sorted(tasks, key=lambda task: task.instance_id)


# ---------------------------------------------------------------------------------- sandboxes
@lru_cache(maxsize=64)
def _repo_archive(source_dir: str, workdir: str, base_commit: str) -> bytes:
    """The repository with its git history, as a tar rooted at ``/``; built once per process.

    The commit is made on the host with a fixed identity and dates, so its hash is reproducible
    and checked against the task's ``base_commit`` here, once, instead of in every sandbox.
    """
    with tempfile.TemporaryDirectory(prefix="agentrl-task-") as tmp:
        repo = Path(tmp) / "repo"
        shutil.copytree(source_dir, repo, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".git"))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, **GIT_IDENTITY}
        for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "base"]):
            subprocess.run(command, cwd=repo, env=env, check=True, capture_output=True)
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, env=env, capture_output=True, text=True,
                              check=True).stdout
        if head.strip() != base_commit:
            raise SandboxError(f"{source_dir}: the files do not make base commit {base_commit} (got {head.strip()})")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            archive.add(repo, arcname=workdir.strip("/"))
        return buffer.getvalue()


def task_sandbox_config(task: SWETask, base: SandboxConfig) -> SandboxConfig:
    """``base`` with the task's image (when it names one), the task's workdir, and the probe that
    reports the agent's test runs."""
    return dataclasses.replace(base, image=task.image or base.image, workdir=task.workdir,
                               env={**PROBE_ENV, **base.env})


@lru_cache(maxsize=1)
def harness_files() -> dict[str, bytes]:
    """The in-sandbox programs of the harness: the test-run probe and the grader's runner."""
    package = resources.files("agentrl.envs.swe")
    return {
        "probe/agentrl_probe.py": package.joinpath("probe_plugin.py").read_bytes(),
        "grader/grader_runner.py": package.joinpath("grader_runner.py").read_bytes(),
    }


def prepare_repo(sandbox: Sandbox, task: SWETask) -> None:
    """Install the harness's trusted files, put the task's repository at its base commit in
    ``workdir`` and run its setup commands."""
    git_files, git_directories = trusted_git_files(task.workdir)
    sandbox.install_trusted({**git_files, **harness_files()}, directories=git_directories)
    if task.source_dir:
        sandbox.extract_archive(_repo_archive(task.source_dir, task.workdir, task.base_commit))
    else:
        _check_image_repo(sandbox, task)
    if task.workdir != sandbox.config.workdir:
        sandbox.run(f"cd {shlex.quote(task.workdir)}")
    for command in task.setup:
        done = sandbox.run(command, timeout=300)
        if not done.ok:
            raise SandboxError(f"{task.instance_id}: setup command {command!r} failed: {done.output[-500:]}")


def _check_image_repo(sandbox: Sandbox, task: SWETask) -> None:
    """An image's repository must already be at the base commit (as SWE-bench images are); this runs
    before the agent's first action, so the repository's own git data is still the image's."""
    command = f"cd {shlex.quote(task.workdir)} && git -c safe.directory='*' rev-parse HEAD"
    result = sandbox.run_trusted(command, timeout=120)
    head = result.output.strip().splitlines()[-1] if result.output.strip() else ""
    if not result.ok or head != task.base_commit:
        raise SandboxError(
            f"{task.instance_id}: repository at {task.workdir} is not at base commit {task.base_commit} "
            f"(got {head or 'nothing'}; exit {result.exit_code}): {result.output[-500:]}"
        )
