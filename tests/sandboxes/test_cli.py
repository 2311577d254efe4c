"""``agentrl sandbox build | validate | reap``."""

from __future__ import annotations

import json

import pytest

from agentrl.cli import main
from agentrl.sandboxes import docker as docker_backend


def test_help_lists_the_verbs_with_examples(capsys):
    with pytest.raises(SystemExit):
        main(["sandbox", "--help"])
    text = capsys.readouterr().out
    for verb in ("build", "validate", "reap"):
        assert f"agentrl sandbox {verb}" in text


def test_validate_one_task_writes_json(bubblewrap, tmp_path, capsys):
    out = tmp_path / "validation.json"
    code = main(["sandbox", "validate", "--backend", "local", "--task-id", "csvlite-1", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "csvlite-1" in printed and "1/1 validations passed" in printed
    (report,) = json.loads(out.read_text())
    assert report["ok"] and report["gold"]["outcome"] == 1.0 and report["empty"]["outcome"] == 0.0
    assert report["empty"]["fail_to_pass_passed"] == 0


def test_validate_table_fits_long_instance_ids(bubblewrap, tmp_path, capsys):
    import shutil

    from agentrl.envs.swe.tasks import builtin_tasks_dir

    long_id = "astropy__astropy-12907-a-very-long-instance-id"
    shutil.copytree(builtin_tasks_dir() / "csvlite-1", tmp_path / long_id)
    record = json.loads((tmp_path / long_id / "task.json").read_text())
    (tmp_path / long_id / "task.json").write_text(json.dumps({**record, "instance_id": long_id}))
    assert main(["sandbox", "validate", "--backend", "local", "--tasks", str(tmp_path)]) == 0
    header, row = capsys.readouterr().out.splitlines()[:2]
    assert row.startswith(long_id + " ") and row.split()[:4] == [long_id, "local", "1", "0"]
    assert header.index("backend") == row.index("local")


def test_validate_rejects_unknown_task_ids(capsys):
    assert main(["sandbox", "validate", "--task-id", "nope-1"]) == 2
    err = capsys.readouterr().err
    assert "unknown task id(s) ['nope-1']" in err and "pagekit-1" in err


@pytest.mark.docker
def test_build_is_cached_and_reap_reports(docker_engine, capsys):
    assert main(["sandbox", "build", "--backend", "docker"]) == 0
    assert capsys.readouterr().out.startswith("cached: agentrl/swe-base:")
    assert main(["sandbox", "reap"]) == 0
    assert "removed" in capsys.readouterr().out


def test_unreachable_daemon_is_one_clear_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(docker_backend, "_client", None)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    assert main(["sandbox", "reap"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach the Docker daemon") and "backend='local'" in err
