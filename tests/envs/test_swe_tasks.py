"""SWE task loading: the built-in suite and SWE-bench / SWE-Gym JSONL."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agentrl.envs.swe.patches import patch_paths as patch_files
from agentrl.envs.swe.tasks import (
    DEFAULT_TEST_CMD,
    GIT_IDENTITY,
    SWEBENCH_SETUP,
    SWETask,
    docker_id,
    load_jsonl,
    load_tasks,
)

SWEBENCH_RECORD = {
    "repo": "astropy/astropy",
    "instance_id": "astropy__astropy-12907",
    "base_commit": "d16bfe05a744909de4b27f5875fe0d4ed41ce607",
    "patch": "diff --git a/astropy/modeling/separable.py b/astropy/modeling/separable.py\n--- a/x\n+++ b/x\n",
    "test_patch": "diff --git a/astropy/modeling/tests/test_separable.py b/astropy/modeling/tests/test_separable.py\n",
    "problem_statement": "Modeling's `separability_matrix` does not compute separability correctly for nested CompoundModels",
    "hints_text": "",
    "created_at": "2022-03-03T15:14:54Z",
    "version": "4.3",
    # On the Hugging Face hub these two are JSON-encoded strings.
    "FAIL_TO_PASS": "[\"astropy/modeling/tests/test_separable.py::test_separable[compound_model6-result6]\"]",
    "PASS_TO_PASS": "[\"astropy/modeling/tests/test_separable.py::test_coord_matrix\"]",
    "environment_setup_commit": "298ccb478e6bf092953bca67a3d29dc6c35f6752",
}


def test_builtin_suite_has_twelve_varied_complete_tasks():
    tasks = load_tasks("builtin")
    assert len(tasks) >= 12
    assert len({task.extra["bug_kind"] for task in tasks}) >= 10
    kinds = {task.extra["bug_kind"] for task in tasks}
    assert {"off-by-one", "wrong exception", "edge case", "API misuse", "bug across two files", "performance"} <= kinds
    for task in tasks:
        assert task.problem_statement.strip() and task.fail_to_pass and task.pass_to_pass
        assert task.source_dir and Path(task.source_dir, "README.md").is_file()
        assert task.patch.startswith("diff --git") and task.test_patch.startswith("diff --git")
        assert not set(patch_files(task.patch)) & set(task.test_files), task.instance_id
        assert all("::" in test for test in task.fail_to_pass + task.pass_to_pass)
        assert task.image == "" and task.test_cmd == DEFAULT_TEST_CMD
    two_files = next(t for t in tasks if t.extra["bug_kind"] == "bug across two files")
    assert len(patch_files(two_files.patch)) == 2


def test_builtin_base_commits_are_reproducible(tmp_path):
    """The recorded base_commit is what git makes of repo/ with the fixed identity and dates."""
    task = load_tasks("builtin")[0]
    work = tmp_path / "repo"
    subprocess.run(["cp", "-r", task.source_dir, str(work)], check=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **GIT_IDENTITY}
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "base"]):
        subprocess.run(command, cwd=work, env=env, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, env=env, capture_output=True, text=True,
                          check=True).stdout
    assert head.strip() == task.base_commit


def test_swebench_jsonl_with_per_instance_images(tmp_path):
    path = tmp_path / "swebench.jsonl"
    path.write_text(json.dumps(SWEBENCH_RECORD) + "\n\n")
    (task,) = load_jsonl(path)
    assert task.instance_id == "astropy__astropy-12907"
    assert task.fail_to_pass == ["astropy/modeling/tests/test_separable.py::test_separable[compound_model6-result6]"]
    assert task.pass_to_pass == ["astropy/modeling/tests/test_separable.py::test_coord_matrix"]
    assert task.image == "swebench/sweb.eval.x86_64.astropy_1776_astropy-12907:latest"
    assert task.setup == list(SWEBENCH_SETUP) and task.source_dir == ""
    assert task.test_files == ["astropy/modeling/tests/test_separable.py"]
    assert task.extra["environment_setup_commit"] == SWEBENCH_RECORD["environment_setup_commit"]
    assert task.tests_to_run == ["astropy/modeling/tests/test_separable.py"]


def test_swe_gym_template_and_record_fields_override(tmp_path):
    record = dict(SWEBENCH_RECORD, instance_id="getmoto__moto-5752", repo="getmoto/moto",
                  image="", setup="source /venv/bin/activate", test_cmd="pytest -rA -x")
    path = tmp_path / "swegym.jsonl"
    path.write_text(json.dumps(record) + "\n")
    (task,) = load_jsonl(path, image_template="xingyaoww/sweb.eval.x86_64.{docker_id}")
    assert task.image == "xingyaoww/sweb.eval.x86_64.getmoto_1776_moto-5752"
    assert task.setup == ["source /venv/bin/activate"] and task.test_cmd == "pytest -rA -x"
    (explicit,) = load_jsonl(path, image_template="{instance_id}:v1")
    assert explicit.image == "getmoto__moto-5752:v1"


def test_records_round_trip():
    task = load_tasks("builtin")[0]
    again = SWETask.from_record(task.to_record())
    again.source_dir = task.source_dir
    assert again == task


def test_bad_records_are_explained(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"instance_id": "x"}\n')
    with pytest.raises(ValueError, match="lacks repo, base_commit, problem_statement"):
        load_jsonl(path)
    path.write_text("{not json\n")
    with pytest.raises(ValueError, match="bad.jsonl:1: not valid JSON"):
        load_jsonl(path)
    with pytest.raises(FileNotFoundError, match="use 'builtin'"):
        load_tasks(str(tmp_path / "missing"))


def test_docker_ids_and_patch_files():
    assert docker_id("django__django-11099") == "django_1776_django-11099"
    assert docker_id("Foo__Bar-1") == "foo_1776_bar-1"
    patch = (
        "diff --git a/src/a.py b/src/a.py\n--- a/src/a.py\n+++ b/src/a.py\n@@ -1 +1 @@\n-x\n+y\n"
        "diff --git a/old.py b/new.py\nsimilarity index 90%\nrename from old.py\nrename to new.py\n"
    )
    assert patch_files(patch) == ["src/a.py", "old.py", "new.py"]
