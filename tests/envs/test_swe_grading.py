"""Grading: the patch reader and its path rules (checked against git itself on random file names),
SWE-bench's log semantics (its own test cases, ported), the grader's runner, and the harness check
of every built-in task."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from agentrl.envs.swe.grader_runner import changed_fingerprints, fingerprint
from agentrl.envs.swe.grading import (
    GRADER_RUNNER,
    GradeResult,
    f2p_passes,
    grade,
    p2p_passes,
    parse_test_statuses,
    resolve_case,
)
from agentrl.envs.swe.patches import (
    UNREADABLE,
    is_test_path,
    patch_paths,
    path_reason,
    shadowed_module,
    split_patch,
    triage,
    unquote,
)
from agentrl.envs.swe.tasks import GIT_IDENTITY, harness_files, load_tasks
from agentrl.envs.swe.validate import check_results, validate_tasks
from agentrl.sandboxes.backends import backend_class
from agentrl.sandboxes.testing import BACKEND_PARAMS, require_backend


# --------------------------------------------------------------- SWE-bench's log semantics, ported
# The cases below follow SWE-bench's tests/test_log_parsers_skip_summary.py,
# tests/test_grading_truncated_ids.py and tests/test_grading_skipped.py (MIT licence).
def test_skip_count_lines_are_not_tests():
    log = ("=== short test summary info ===\nSKIPPED [1] tests/test_a.py:12: needs network\n"
           "PASSED tests/test_a.py::test_real\nSKIPPED [23] tests/test_b.py:4: unsupported platform\n")
    assert parse_test_statuses(log) == {"tests/test_a.py::test_real": "PASSED"}
    assert parse_test_statuses("SKIPPED tests/test_a.py::test_flaky") == {"tests/test_a.py::test_flaky": "SKIPPED"}
    assert parse_test_statuses("PASSED [100%]") == {"[100%]": "PASSED"}


def test_log_lines_read_as_swebench_reads_them():
    log = ("PASSED tests/test_b.py::test_forged\n=========== short test summary info ===========\n"
           "PASSED tests/test_a.py::test_one - assert 2 == 3\nFAILED tests/test_a.py::test_two - AssertionError: x\n"
           "ERROR tests/test_b.py::test_setup - RuntimeError\nXFAIL tests/test_a.py::test_known - reason: bug 7\n")
    statuses = parse_test_statuses(log)
    assert statuses == {"tests/test_a.py::test_one": "PASSED", "tests/test_a.py::test_two": "FAILED",
                        "tests/test_b.py::test_setup": "ERROR", "tests/test_a.py::test_known": "XFAIL"}
    assert "tests/test_b.py::test_forged" not in statuses  # printed before the last summary: ignored


def test_truncated_ids_match_by_unambiguous_prefix():
    truncated = "astropy/units/tests/test_format.py::test_ogip_grammar_fail[log(photon"
    assert resolve_case(truncated, {truncated + " / m**2 s)]": "PASSED"}) == truncated + " / m**2 s)]"
    assert resolve_case("tests/test_a.py::test_x[case-1]", {"tests/test_a.py::test_x[case-1-extended]": "PASSED"}) is None
    mixed = {"tests/test_a.py::test_x[args1-None]": "PASSED", "tests/test_a.py::test_x[args1-No-value]": "FAILED"}
    assert resolve_case("tests/test_a.py::test_x[args1-No", mixed) is None
    same = {key: "PASSED" for key in mixed}
    assert resolve_case("tests/test_a.py::test_x[args1-No", same) in same


def test_what_counts_as_passing():
    assert f2p_passes("PASSED") and f2p_passes("XFAIL") and not f2p_passes("SKIPPED")
    assert p2p_passes("SKIPPED") and not p2p_passes("FAILED")
    for by_patch in ("SKIPPED_BY_PATCH", "XFAIL_BY_PATCH", "XPASS", "MISSING", "ERROR"):
        assert not f2p_passes(by_patch) and not p2p_passes(by_patch)
    tampered = GradeResult(0.0, "tests_failed", {"t": "PASSED"}, {}, tampered=["x"])
    assert not tampered.tests_passed
    assert GradeResult(0.0, "tests_failed", {"t": "PASSED"}, {"u": "SKIPPED"}).tests_passed


# --------------------------------------------------------------------------- reading patches
@pytest.mark.parametrize("path, reason", [
    ("tests/test_pages.py", "test file"), ("pkg/x_test.py", "test file"), ("conftest.py", "test file"),
    ("app/tests.py", "test file"), ("pytest.ini", "test configuration"), (".pytest.ini", "test configuration"),
    ("pytest.toml", "test configuration"), (".pytest.toml", "test configuration"), ("setup.cfg", "test configuration"),
    ("tox.ini", "test configuration"), ("pyproject.toml", "test configuration"),
    ("sitecustomize.py", "interpreter start-up file"), ("lib/evil.pth", "interpreter start-up file"),
    ("evil-1.0.dist-info/entry_points.txt", "packaging metadata"), ("x.egg-info/PKG-INFO", "packaging metadata"),
    ("pkg/__pycache__/a.cpython-311.pyc", "bytecode cache"), ("a.pyc", "bytecode cache"),
    (".gitattributes", "git metadata"), ("sub/.gitmodules", "git metadata"),
    # library code in folders named test/tests/testing is code (SWE-bench resets only the test patch's files)
    ("django/test/testcases.py", None), ("numpy/testing/_private/utils.py", None), ("sphinx/testing/fixtures.py", None),
    ("pkg/tests/helpers.py", None), ("pagekit/pages.py", None), ("pkg/testing_utils.py", None), ("contest.py", None),
])
def test_path_rules(path, reason):
    assert path_reason(path) == reason
    assert is_test_path(path) is (reason is not None)


def test_official_test_files_and_their_package_init_are_reset():
    official = ["astropy/io/tests/test_fits.py", "docs/example.py"]
    assert path_reason("docs/example.py", official) == "official test file"
    assert path_reason("astropy/io/tests/__init__.py", official) == "test package __init__.py"
    assert path_reason("astropy/io/__init__.py", official) is None


def test_shadowing_modules():
    trusted = {"json", "pytest", "_pytest", "math"}
    assert shadowed_module("json.py", set(), trusted) == "json"
    assert shadowed_module("pytest/__init__.py", set(), trusted) == "pytest"
    assert shadowed_module("tests/math.cpython-311-x86_64-linux-gnu.so", set(), trusted) == "math"
    assert shadowed_module("pkg/json.py", {"pkg"}, trusted) is None  # importable only as pkg.json
    assert shadowed_module("pkg/sub/json.py", {"pkg", "pkg/sub"}, trusted) is None
    assert shadowed_module("docs/json.py", set(), trusted) == "json"  # a plain directory can reach sys.path
    assert shadowed_module("pagekit/helpers.py", set(), trusted) is None


def test_quoting_and_headers():
    assert unquote('"caf\\303\\251 \\"x\\"\\t.py"') == 'café "x"\t.py'
    assert unquote('"bad\\q"') is None and unquote("plain") is None
    chunks = split_patch(
        "From: someone\n\n"
        "diff --git a/a b/c.py b/a b/c.py\nnew file mode 100644\n--- /dev/null\n+++ b/a b/c.py\t\n@@ -0,0 +1 @@\n+x\n"
        "diff --git a/x y.py b/conftest.py\nsimilarity index 90%\nrename from x y.py\nrename to conftest.py\n"
        "diff --git a/README b/README\n--- a/README\n+++ b/tests/conftest.py\n@@ -1 +1 @@\n-a\n+b\n"
        "diff --git c/conftest.py w/conftest.py\nnew file mode 100644\n--- /dev/null\n+++ w/conftest.py\n"
        "diff --git a/../x b/../x\nnew file mode 100644\n"
        "diff --git a/.git/hooks/x b/.git/hooks/x\nnew file mode 100755\n"
        "diff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+/etc\n"
        "diff --git a/m n b/m n\nold mode 100644\nnew mode 100755\n"
    )
    summary = [(c.readable, c.old_path, c.new_path) for c in chunks]
    assert summary == [
        (True, None, "a b/c.py"), (True, "x y.py", "conftest.py"), (False, "README", "README"),
        (False, None, None), (False, None, "../x"), (False, None, ".git/hooks/x"), (True, None, "link"),
        (True, "m n", "m n"),
    ]
    triaged = triage("".join(c.text for c in chunks))
    assert triaged.kept_paths == ["a b/c.py", "m n"]
    assert triaged.dropped["conftest.py"] == "test file" and triaged.dropped["link"] == "symbolic link"
    assert triaged.dropped["README"] == UNREADABLE


def _git(repo: Path, *args: str) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(repo.parent), **GIT_IDENTITY}
    return subprocess.run(["git", "-c", "core.quotePath=true", *args], cwd=repo, env=env, check=True,
                          capture_output=True).stdout.decode("utf-8", "surrogateescape")


def test_paths_match_git_on_random_file_names(tmp_path):
    """Our reader agrees with git's own NUL-separated name list on names with spaces, quotes,
    backslashes, tabs, newlines and non-ASCII characters; created, changed, deleted, re-moded,
    binary and linked files (200 random changes)."""
    rng = random.Random(14)
    alphabet = "ab c_-.\"\\\t\né中ü'$"
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    names = set()
    while len(names) < 200:
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))).strip("./ \n\t") or "x"
        if "/" not in name and name not in (".git", "..", "."):
            names.add(("d x/" if rng.random() < 0.3 else "") + name)
    names = sorted(names)
    for name in names[:120]:
        (repo / name).parent.mkdir(exist_ok=True)
        (repo / name).write_bytes(b"base\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    for index, name in enumerate(names):
        path = repo / name
        path.parent.mkdir(exist_ok=True)
        kind = index % 5
        if index >= 120 or kind == 0:
            path.write_bytes(bytes(rng.randrange(256) for _ in range(40)) if kind == 1 else b"new\n")
        elif kind == 1:
            path.unlink()
        elif kind == 2:
            path.chmod(0o755)
        elif kind == 3:
            path.unlink()
            path.symlink_to("target")
        else:
            path.write_bytes(b"\x00\x01binary\xff")
    _git(repo, "add", "-A")
    patch = _git(repo, "diff", "--cached", "--binary", "--full-index", "--no-renames", "HEAD")
    expected = [p for p in _git(repo, "diff", "--cached", "--name-only", "-z", "--no-renames", "HEAD").split("\0") if p]
    chunks = split_patch(patch)
    assert all(chunk.readable for chunk in chunks)
    assert sorted(patch_paths(patch)) == sorted(expected)
    links = [c.new_path for c in chunks if "120000" in c.modes]
    assert links and all(name in names for name in links)


# --------------------------------------------------------------------------- grading in sandboxes
@pytest.fixture(params=BACKEND_PARAMS)
def backend(request):
    require_backend(request.param)
    return request.param


def task(instance_id: str):
    return next(t for t in load_tasks("builtin") if t.instance_id == instance_id)


def test_grading_uses_the_official_tests_not_the_agents(backend):
    """A patch that deletes the failing tests and fixes nothing is not resolved."""
    statkit = task("statkit-1")
    delete_tests = (
        "diff --git a/tests/test_stats.py b/tests/test_stats.py\ndeleted file mode 100644\n"
        "--- a/tests/test_stats.py\n+++ /dev/null\n@@ -1,3 +0,0 @@\n-import pytest\n-\n-from statkit import mean, median, spread\n"
    )
    with backend_class(backend)() as sandbox:
        result = grade(statkit, delete_tests, sandbox)
    assert result.kind == "empty_patch" and result.outcome == 0.0
    assert result.dropped == {"tests/test_stats.py": "official test file"}


def test_a_fix_in_library_code_under_testing_scores_1(backend):
    """tolerance-1's fix lives in ``tolerance/testing/asserts.py``: code, not a test."""
    tolerance = task("tolerance-1")
    assert all(path.startswith("tolerance/testing/") for path in patch_paths(tolerance.patch))
    with backend_class(backend)() as sandbox:
        result = grade(tolerance, tolerance.patch, sandbox)
    assert result.kind == "resolved" and result.dropped == {} and result.channel == "plugin", result.summary()


def test_a_patch_that_does_not_apply_fails(backend):
    gridlib = task("gridlib-1")
    bogus = gridlib.patch.replace("return Grid(list(self.rows))", "return Grid(self.rows[:])")
    with backend_class(backend)() as sandbox:
        result = grade(gridlib, bogus, sandbox)
    assert result.kind == "tests_failed" and result.outcome == 0.0 and "patch" in result.apply_error


def test_an_official_test_patch_that_no_longer_applies_is_a_result_not_an_exception(backend):
    pagekit = task("pagekit-1")
    replace_tests = ("diff --git a/tests b/tests\nnew file mode 100644\n--- /dev/null\n+++ b/tests\n@@ -0,0 +1 @@\n+x\n")
    with backend_class(backend)() as sandbox:
        result = grade(pagekit, pagekit.patch + replace_tests, sandbox)
    assert result.outcome == 0.0 and result.kind == "tests_failed"
    assert result.apply_error or result.error


def test_check_results_flags_a_task_whose_tests_do_not_detect_the_bug(backend):
    leaderboard = task("leaderboard-1")
    with backend_class(backend)() as sandbox:
        gold = grade(leaderboard, leaderboard.patch, sandbox)
    assert check_results(leaderboard, gold, gold) == [
        "empty patch scores 1.0",
        "FAIL_TO_PASS tests pass without the fix: ['tests/test_rank.py::test_ties_by_name']",
    ]


RUNNER_TESTS = '''
import pytest


@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown")


@pytest.fixture
def broken_setup():
    raise RuntimeError("setup")


def test_pass():
    assert True


def test_fail():
    assert 1 == 2


@pytest.mark.xfail(reason="known")
def test_marked_xfail():
    assert False


@pytest.mark.xfail(reason="known")
def test_xpass():
    pass


def test_imperative_skip_in_the_test():
    pytest.skip("not here")


def test_skip_from_library():
    import helper
    helper.skip_me()


def test_setup_error(broken_setup):
    pass


def test_teardown_error(broken_teardown):
    pass
'''


def test_the_runner_records_each_phase(backend):
    """The grader's runner, run directly: statuses per test, skips raised by patched code, the
    nonce, and no plugin from the repository."""
    sandbox = backend_class(backend)().start()
    try:
        sandbox.install_trusted(harness_files())
        sandbox.write_file("tests/test_cases.py", RUNNER_TESTS)
        sandbox.write_file("helper.py", "import pytest\n\ndef skip_me():\n    pytest.skip('from library')\n")
        sandbox.write_file("/tmp/patched", "helper.py")
        run = sandbox.run(f"python3 -I {GRADER_RUNNER} run /tmp/results.json /testbed /tmp/patched -- -rA tests/test_cases.py",
                          stdin=b"n0nce\n", persist=False, timeout=60)
        report = __import__("json").loads(sandbox.read_file("/tmp/results.json"))
    finally:
        sandbox.close()
    assert run.exit_code == report["exit"] == 1 and report["nonce"] == "n0nce" and report["collected"] == 8
    assert report["statuses"] == {
        "tests/test_cases.py::test_pass": "PASSED", "tests/test_cases.py::test_fail": "FAILED",
        "tests/test_cases.py::test_marked_xfail": "XFAIL", "tests/test_cases.py::test_xpass": "XPASS",
        "tests/test_cases.py::test_imperative_skip_in_the_test": "SKIPPED",
        "tests/test_cases.py::test_skip_from_library": "SKIPPED_BY_PATCH",
        "tests/test_cases.py::test_setup_error": "ERROR", "tests/test_cases.py::test_teardown_error": "ERROR",
    }
    assert report["tampered"] == []


def test_fingerprints_see_replaced_attributes_and_code():
    import types

    module = types.ModuleType("_pytest.fake_for_test")

    def original():
        return 1

    class Report:
        def outcome(self):
            return "failed"

    module.run, module.Report, Report.__module__ = original, Report, "_pytest.fake_for_test"
    import sys

    sys.modules[module.__name__] = module
    try:
        before = fingerprint()
        assert changed_fingerprints(before, fingerprint()) == []
        original.__code__ = (lambda: 2).__code__
        Report.outcome = lambda self: "passed"
        changed = changed_fingerprints(before, fingerprint())
        assert "_pytest.fake_for_test.run" in changed and "_pytest.fake_for_test.Report.outcome" in changed
    finally:
        del sys.modules[module.__name__]


@pytest.mark.slow
def test_every_builtin_task_validates(backend):
    """The SWE-bench harness check on every task: gold patch -> 1, empty patch -> 0."""
    tasks = load_tasks("builtin")
    reports = validate_tasks(tasks, backend, workers=2)
    failures = {r.instance_id: r.problems for r in reports if not r.ok}
    assert failures == {}
    assert len(reports) == len(tasks) >= 16
    for report in reports:
        assert report.gold.outcome == 1.0 and report.empty.outcome == 0.0 and not report.gold.tampered
        assert all(not f2p_passes(status) for status in report.empty.fail_to_pass.values())
