"""A pytest plugin that tells the sandbox's dispatcher how many tests a command really ran.

This file is not imported by the host: it is installed read-only in the agent's sandbox and loaded
into the agent's own pytest runs through ``PYTEST_PLUGINS``. When a session ran at least one test,
it writes one JSON line to the private pipe ``$AGENTRL_REPORT_FD`` that the dispatcher opened for
the command; the line comes back in ``CommandResult.reports`` and pays the ``tests_run`` reward.
So the reward follows what ran, not what the command said: ``echo pytest`` earns nothing.
Standard library only; Python >= 3.6.
"""

import json
import os

_ran = {"tests": 0}


def pytest_runtest_logreport(report):
    if report.when == "call":
        _ran["tests"] += 1


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get("AGENTRL_REPORT_FD", "")
    if not _ran["tests"] or not target.isdigit():
        return
    line = json.dumps({"kind": "pytest", "ran": _ran["tests"], "exit": int(exitstatus)}) + "\n"
    try:
        os.write(int(target), line.encode())
    except OSError:
        pass
