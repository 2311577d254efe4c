"""Grading: pytest log parsing, test-edit removal, and the harness check of every built-in task."""

from __future__ import annotations

import pytest

from agentrl.envs.swe.grading import grade, is_test_path, parse_test_statuses, remove_test_edits, split_patch
from agentrl.envs.swe.tasks import load_tasks
from agentrl.envs.swe.validate import check_results, validate_tasks
from agentrl.sandboxes.backends import backend_class
from agentrl.sandboxes.testing import BACKEND_PARAMS, require_backend

PYTEST_LOG = """\
============================= test session starts ==============================
PASSED tests/test_b.py::test_forged
FAILED tests/test_a.py::test_one - printed by the code under test, before the summary
collected 6 items

tests/test_a.py .F.sx                                                     [100%]

=================================== FAILURES ===================================
=========================== short test summary info ============================
PASSED tests/test_a.py::test_one
PASSED tests/test_a.py::test_param[a b-1]
FAILED tests/test_a.py::test_two - AssertionError: assert 1 == 2 - really
ERROR tests/test_b.py::test_setup - RuntimeError: fixture broke
SKIPPED [1] tests/test_a.py:10: no network
XFAIL tests/test_a.py::test_known - reason: bug 7
=================== 1 failed, 2 passed, 1 error, 1 skipped in 0.12s ============
"""


def test_pytest_summary_is_parsed_like_swebench():
    statuses = parse_test_statuses(PYTEST_LOG)
    assert statuses["tests/test_a.py::test_one"] == "PASSED"
    assert statuses["tests/test_a.py::test_param[a b-1]"] == "PASSED"
    assert statuses["tests/test_a.py::test_two"] == "FAILED"
    assert statuses["tests/test_b.py::test_setup"] == "ERROR"
    assert statuses["tests/test_a.py::test_known - reason: bug 7"] == "XFAIL"
    assert "tests/test_a.py" not in statuses  # the progress line is not a summary line
    assert "tests/test_b.py::test_forged" not in statuses  # printed before the summary: ignored


@pytest.mark.parametrize("path, expected", [
    ("tests/test_pages.py", True), ("pkg/tests/helpers.py", True), ("test_x.py", True), ("pkg/x_test.py", True),
    ("conftest.py", True), ("pkg/conftest.py", True), ("pytest.ini", True), ("setup.cfg", True),
    ("sitecustomize.py", True), ("site-packages/evil.pth", True),
    ("pagekit/pages.py", False), ("pkg/testing_utils.py", False), ("contest.py", False), ("README.md", False),
])
def test_test_paths(path, expected):
    assert is_test_path(path) is expected


def test_config_file_protection_can_be_relaxed():
    assert not is_test_path("setup.cfg", config_files=False)
    assert is_test_path("conftest.py", config_files=False)
    assert is_test_path("docs/example.py", ["docs/example.py"])  # touched by the official test patch


def test_test_edits_are_removed_and_reported():
    task = next(t for t in load_tasks("builtin") if t.instance_id == "pagekit-1")
    patch = task.patch + task.test_patch + (
        "diff --git a/conftest.py b/conftest.py\nnew file mode 100644\n--- /dev/null\n+++ b/conftest.py\n@@ -0,0 +1 @@\n+x = 1\n"
    )
    kept, dropped = remove_test_edits(patch, task)
    assert kept == task.patch
    assert dropped == ["tests/test_pages.py", "conftest.py"]
    assert len(split_patch(patch)) == 3
    assert remove_test_edits("", task) == ("", [])


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request):
    require_backend(request.param)
    return request.param


def test_grading_uses_the_official_tests_not_the_agents(backend):
    """A patch that deletes the failing tests and fixes nothing is not resolved."""
    task = next(t for t in load_tasks("builtin") if t.instance_id == "statkit-1")
    delete_tests = (
        "diff --git a/tests/test_stats.py b/tests/test_stats.py\ndeleted file mode 100644\n"
        "--- a/tests/test_stats.py\n+++ /dev/null\n@@ -1,3 +0,0 @@\n-import pytest\n-\n-from statkit import mean, median, spread\n"
    )
    with backend_class(backend)() as sandbox:
        result = grade(task, delete_tests, sandbox)
    assert result.kind == "empty_patch" and result.outcome == 0.0
    assert result.test_edits == ["tests/test_stats.py"]


def test_a_patch_that_does_not_apply_fails(backend):
    task = next(t for t in load_tasks("builtin") if t.instance_id == "gridlib-1")
    bogus = task.patch.replace("return Grid(list(self.rows))", "return Grid(self.rows[:])")
    with backend_class(backend)() as sandbox:
        result = grade(task, bogus, sandbox)
    assert result.kind == "tests_failed" and result.outcome == 0.0 and "patch" in result.apply_error


def test_check_results_flags_a_task_whose_tests_do_not_detect_the_bug(backend):
    task = next(t for t in load_tasks("builtin") if t.instance_id == "leaderboard-1")
    with backend_class(backend)() as sandbox:
        gold = grade(task, task.patch, sandbox)
    assert check_results(task, gold, gold) == [
        "empty patch scores 1.0",
        "FAIL_TO_PASS tests pass without the fix: ['tests/test_rank.py::test_ties_by_name']",
    ]


@pytest.mark.slow
def test_every_builtin_task_validates(backend):
    """The SWE-bench harness check on every task: gold patch -> 1, empty patch -> 0."""
    tasks = load_tasks("builtin")
    reports = validate_tasks(tasks, backend, workers=4)
    failures = {r.instance_id: r.problems for r in reports if not r.ok}
    assert failures == {}
    assert len(reports) == len(tasks) >= 12
    for report in reports:
        assert report.gold.outcome == 1.0 and report.empty.outcome == 0.0
        assert all(status != "PASSED" for status in report.empty.fail_to_pass.values())
