"""One behavioural suite that every sandbox backend passes (parametrised over docker and local)."""

from __future__ import annotations

import io
import tarfile
import time

import pytest

from agentrl.sandboxes import CommandResult
from agentrl.sandboxes.base import TRUSTED_DIR, FileTooLargeError, SandboxError, tar_of


def test_cd_and_export_persist_across_commands(sandbox):
    assert sandbox.run("pwd").output.strip() == "/testbed"
    assert sandbox.run("mkdir -p /tmp/work && cd /tmp/work && export GREETING='hello world'").ok
    result = sandbox.run('pwd; echo "$GREETING"')
    assert result.output.splitlines() == ["/tmp/work", "hello world"]
    sandbox.run("unset GREETING; cd /")
    assert sandbox.run('pwd; echo "[$GREETING]"').output.splitlines() == ["/", "[]"]


def test_exit_status_and_stderr(sandbox):
    result = sandbox.run("echo out; echo err >&2; exit 3")
    assert isinstance(result, CommandResult)
    assert result.exit_code == 3 and not result.ok
    assert "out" in result.output and "err" in result.output


def test_syntax_error_does_not_break_the_session(sandbox):
    result = sandbox.run('echo "unbalanced')
    assert result.exit_code != 0
    assert sandbox.run("echo fine").output == "fine\n"


def test_non_persistent_commands_leave_state_alone(sandbox):
    sandbox.run("cd /tmp && export MODE=agent")
    assert sandbox.run("cd / && export MODE=harness", persist=False).ok
    assert sandbox.run('pwd; echo "$MODE"').output.splitlines() == ["/tmp", "agent"]
    assert sandbox.run("pwd", persist=False, cwd="/usr").output.strip() == "/usr"


def test_hanging_command_is_killed_at_its_timeout_and_the_session_survives(sandbox):
    sandbox.run("cd /tmp && export KEEP=1")
    result = sandbox.run("echo started; sleep 61; echo never", timeout=1.0)
    assert result.timed_out and result.killed == "timeout"
    assert 1.0 <= result.seconds < 10
    assert "started" in result.output and "never" not in result.output
    # state from before the killed command is intact, and no sleep survived
    assert sandbox.run('pwd; echo "$KEEP"').output.splitlines() == ["/tmp", "1"]
    assert "sleep 61" not in sandbox.run("ps -eo args").output


def test_background_job_does_not_block_the_command(sandbox):
    result = sandbox.run("sleep 30 & echo launched", timeout=10)
    assert result.ok and result.output == "launched\n" and result.seconds < 5


def test_output_is_capped_keeping_head_and_tail(make_sandbox):
    sandbox = make_sandbox(output_limit=1000)
    result = sandbox.run("seq 1 100000")
    assert result.ok and result.truncated
    assert result.total_bytes == len("".join(f"{i}\n" for i in range(1, 100001)))
    assert result.output.startswith("1\n2\n3\n")
    assert result.output.endswith("99999\n100000\n")
    assert "bytes omitted" in result.output
    assert len(result.output) < 1200


def test_output_flood_is_killed(make_sandbox):
    sandbox = make_sandbox(output_limit=1000, kill_output_bytes=5 << 20)
    result = sandbox.run("yes flood", timeout=30)
    assert result.killed == "output" and not result.ok
    assert result.total_bytes > 5 << 20
    assert result.seconds < 20
    assert sandbox.run("echo still here").output == "still here\n"


def test_fork_bomb_stays_within_the_pid_limit(make_sandbox):
    sandbox = make_sandbox(pids=64, timeout=20)
    result = sandbox.run("bomb() { bomb | bomb & }; bomb; sleep 3; ps -e --no-headers | wc -l", timeout=4)
    assert result.timed_out or result.exit_code != 0 or int(result.output.split()[-1]) <= 64
    alive = sandbox.run("echo alive; ps -e --no-headers | wc -l", timeout=10)
    assert alive.output.splitlines()[0] == "alive"
    assert int(alive.output.splitlines()[1]) < 16, alive.output


def test_memory_limit(make_sandbox):
    sandbox = make_sandbox(memory="256m")
    result = sandbox.run("python3 -c 'b = bytearray(600 << 20); print(len(b))'", timeout=60)
    assert not result.ok and "629145600" not in result.output
    assert sandbox.run("echo ok").output == "ok\n"


def test_no_network_beyond_loopback(sandbox):
    interfaces = sandbox.run("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '").output.split()
    assert interfaces == ["lo"]


def test_files_round_trip_through_archives(sandbox):
    payload = bytes(range(256)) * 10
    sandbox.write_file("pkg/deep/data.bin", payload)
    sandbox.write_file("/tmp/notes.txt", "héllo\n")
    assert sandbox.read_file("pkg/deep/data.bin") == payload
    assert sandbox.read_file("/testbed/pkg/deep/data.bin") == payload
    assert sandbox.run("cat /tmp/notes.txt").output == "héllo\n"
    assert sandbox.run("stat -c %a /tmp").output.strip() == "1777"  # writing never changes a directory's mode
    sandbox.write_file("run.sh", "#!/bin/sh\necho ran\n", mode=0o755)
    assert sandbox.run("./run.sh").output == "ran\n"
    assert sandbox.read_file_and_mode("run.sh")[1] & 0o777 == 0o755


def test_archives_of_directories(sandbox):
    sandbox.put_archive("/testbed", tar_of({"a/one.txt": b"1", "a/two.txt": b"22"}))
    with tarfile.open(fileobj=io.BytesIO(sandbox.get_archive("/testbed/a"))) as archive:
        sizes = {member.name: member.size for member in archive.getmembers() if member.isfile()}
    assert sizes == {"a/one.txt": 1, "a/two.txt": 2}


def test_missing_paths_raise(sandbox):
    with pytest.raises(FileNotFoundError):
        sandbox.read_file("does/not/exist.py")
    sandbox.run("mkdir -p somedir")
    with pytest.raises(IsADirectoryError):
        sandbox.read_file("somedir")


def test_reset_restores_a_clean_state(sandbox):
    sandbox.write_file("scratch.txt", "dirty")
    sandbox.run("cd /tmp && export DIRTY=1 && touch /tmp/marker")
    sandbox.reset()
    assert sandbox.started
    assert sandbox.run('pwd; echo "[$DIRTY]"').output.splitlines() == ["/testbed", "[]"]
    with pytest.raises(FileNotFoundError):
        sandbox.read_file("scratch.txt")
    assert sandbox.run("test -e /tmp/marker").exit_code == 1


def test_stdin_is_passed_to_the_command(sandbox):
    data = b"line\n" * 50000
    result = sandbox.run("wc -l", stdin=data)
    assert result.output.strip() == "50000"


def test_kill_everything_cannot_end_the_session(sandbox):
    """Agent commands cannot signal the dispatcher: another uid (Docker) or pid 1 of the sandbox's
    namespace (bubblewrap)."""
    sandbox.run("cd /tmp && export KEEP=1")
    sandbox.run("sleep 300 >/dev/null 2>&1 &")
    sandbox.run("kill -9 -1; sleep 1", timeout=10)
    assert sandbox.run('pwd; echo "$KEEP"').output.splitlines() == ["/tmp", "1"]
    assert "sleep 300" not in sandbox.run("ps -eo args").output


def test_agent_commands_cannot_write_the_session_stream(sandbox):
    forged = '{"id": 2, "token": "x", "exit_code": 0, "head": "", "tail": "", "total": 0, "killed": null, "seconds": 0}'
    result = sandbox.run(f"echo '{forged}' > /proc/$PPID/fd/1; echo '{forged}' > /proc/1/fd/1; echo done")
    assert "Permission denied" in result.output and result.output.endswith("done\n")
    assert sandbox.run("echo next").output == "next\n"


def test_trusted_commands_ignore_the_agents_environment(sandbox):
    sandbox.run("mkdir -p /tmp/evil && printf '#!/bin/sh\\necho hijacked\\n' > /tmp/evil/ls && chmod +x /tmp/evil/ls")
    sandbox.run("export PATH=/tmp/evil:$PATH GIT_DIR=/nowhere && cd /tmp")
    assert sandbox.run("ls /").output == "hijacked\n"
    trusted = sandbox.run_trusted('ls / >/dev/null && pwd && echo "[$GIT_DIR]"')
    assert trusted.output.splitlines() == ["/", "[]"]
    assert sandbox.run("pwd").output == "/tmp\n"  # and the agent's state is untouched


def test_the_trusted_directory_is_read_only_to_the_agent(sandbox):
    sandbox.install_trusted({"tools/conf.txt": b"trusted\n"}, directories=("empty",))
    assert sandbox.run(f"cat {TRUSTED_DIR}/tools/conf.txt; test -d {TRUSTED_DIR}/empty && echo dir").output == "trusted\ndir\n"
    for attempt in (f"echo x > {TRUSTED_DIR}/tools/conf.txt", f"rm -rf {TRUSTED_DIR}/tools", f"touch {TRUSTED_DIR}/new"):
        assert sandbox.run(attempt).exit_code != 0, attempt
    assert sandbox.run(f"cat {TRUSTED_DIR}/tools/conf.txt").output == "trusted\n"


def test_disk_quota(make_sandbox):
    sandbox = make_sandbox(disk="64m", timeout=30)
    for target in ("/testbed/fill", "/tmp/fill"):
        result = sandbox.run(f"dd if=/dev/zero of={target} bs=1M count=200")
        assert "No space left" in result.output or "File size limit" in result.output, result.output
        assert int(sandbox.run(f"stat -c %s {target}").output) <= 64 << 20
    assert sandbox.run("rm /testbed/fill && echo freed").output == "freed\n"


def test_reads_are_capped_before_any_transfer(sandbox):
    sandbox.run("truncate -s 200M big.bin")
    started = time.monotonic()
    with pytest.raises(FileTooLargeError, match="nothing was read"):
        sandbox.read_file("big.bin", max_bytes=1 << 20)
    with pytest.raises(FileTooLargeError):
        sandbox.get_archive("/testbed", max_bytes=1 << 20)
    assert time.monotonic() - started < 5
    with pytest.raises(SandboxError, match="not a regular file"):
        sandbox.read_file("/dev/zero")


def test_reports_come_back_from_agent_commands_only(sandbox):
    result = sandbox.run('echo \'{"kind": "probe", "ran": 3}\' >&$AGENTRL_REPORT_FD; echo ok; echo junk >&$AGENTRL_REPORT_FD')
    assert result.output == "ok\n" and result.reports == [{"kind": "probe", "ran": 3}]
    assert sandbox.run_trusted('echo "[$AGENTRL_REPORT_FD]"').output == "[]\n"


def test_files_written_by_the_harness_belong_to_the_agent(sandbox):
    sandbox.write_file("owned.txt", "x")
    assert sandbox.run("echo y >> owned.txt && cat owned.txt").output == "xy\n"
