"""Runs the hidden tests inside the grader sandbox, and reports what really happened.

This file is not imported by the host: it is installed read-only in the grader's sandbox and run as
``python -I grader_runner.py run RESULTS WORKDIR PATCHED -- PYTEST_ARGS`` (``-I``: no ``PYTHON*``
variables, no user site, no script directory on ``sys.path``). Standard library and pytest only;
Python >= 3.6 (the audit guard needs >= 3.8).

The code under test runs in this process, as in every pytest-based harness. What is done so that
it cannot decide its own verdict:

* **start-up**: the grader's nonce comes on stdin, which is then closed; the results file is opened
  (``O_EXCL``) before anything from the repository is imported; ``PYTEST_ADDOPTS``/``PYTEST_PLUGINS``
  are dropped; plugin autoload is off and only the ``pytest11`` entry points of distributions
  installed *outside* the repository are loaded (``-p``); the repository root is moved to the end
  of ``sys.path``, so neither ``pytest`` nor the standard library can be shadowed from it;
  ``--rootdir`` and ``--confcutdir`` are the workdir; no bytecode is written (a patch's
  ``__pycache__`` never reaches the grader);
* **its own result channel**: the plugin records each test's phases from inside pytest's report
  hook, as the outermost wrapper, and checks every report against the exception the test really
  raised (a report turned from "failed" into "passed" by a hook is tampering). A skip or xfail
  raised from code the patch wrote is not a pass. The results (with the nonce, the collected count
  and the exit status) are written by this process after pytest returns, then it leaves with
  ``os._exit`` (no ``atexit`` code of the patch runs after the write);
* **integrity**: every pytest/pluggy module, class and function is fingerprinted before the first
  test module is imported and compared at the end; official test modules must come from pytest's
  own loader and their files; import hooks defined by patched code are tampering;
* **an audit hook** (``sys.addaudithook``, which cannot be removed) flags what patched code (a file
  the patch changed, or code it compiled) has no business doing in a test run: tracing/profiling
  hooks, ``gc`` object walks, ``ctypes``, creating code objects, swapping a function's
  ``__code__``, setting attributes on pytest's or the standard library's classes, and any write to
  the results file.

The host then checks the nonce, that the recorded exit status is the process's own, and that the
statuses agree with it. A patch engineered against this file could still read the nonce out of
the process's memory; every layer above is there to make that the only way, and a loud one.
"""

import json
import os
import sys

_WATCHED = frozenset((
    "sys.settrace", "sys.setprofile", "sys._settraceallthreads", "sys._setprofileallthreads",
    "sys.monitoring.register_callback", "sys.monitoring.set_events", "gc.get_objects", "gc.get_referrers",
    "gc.get_referents", "code.__new__", "object.__setattr__", "object.__delattr__", "open", "os.remove",
    "os.rename", "os.chmod", "os.chown", "os.truncate", "os.link", "os.symlink", "os.utime", "compile", "exec",
))
_PYTEST_MODULES = ("pytest", "_pytest", "pluggy")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_DROPPED_VARS = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONINSPECT",
                 "PYTHONBREAKPOINT", "PYTHONWARNINGS")


def _inside(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def _pytest_module(name):
    return any(name == top or name.startswith(top + ".") for top in _PYTEST_MODULES)


class Guard:
    """The audit hook (see module docstring). ``events`` lists what it flagged."""

    def __init__(self, patched, workdir, results_path):
        self.patched = set(patched)
        self.workdir = workdir
        self.results = os.path.realpath(results_path)
        self.events = []
        self._real = {}
        self._busy = False

    def hook(self, event, args):
        if self._busy or (event not in _WATCHED and not event.startswith("ctypes.")):
            return
        self._busy = True
        try:
            self._check(event, args)
        except Exception:  # noqa: BLE001, S110 - an audit hook must never break the run it watches
            pass
        finally:
            self._busy = False

    def _check(self, event, args):
        if event == "open" or event.startswith("os."):
            self._check_file(event, args)
        elif event in ("compile", "exec"):
            self._taint(event, args)
        elif event in ("object.__setattr__", "object.__delattr__"):
            self._check_setattr(event, args)
        elif self._from_patched():
            self._flag(event + " from patched code")

    def _check_file(self, event, args):
        path = args[0] if args else None
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return
        if event == "open":
            mode, flags = (args[1] if len(args) > 1 else None), (args[2] if len(args) > 2 else 0)
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                (isinstance(flags, int) and flags > 0 and flags & _WRITE_FLAGS)
            if not writing:
                return
        if os.path.realpath(path) == self.results:
            self._flag(event + " on the grader's results file")

    def _taint(self, event, args):
        """Code compiled or executed by patched code counts as patched code."""
        if not self._from_patched():
            return
        code = args[0] if args else None
        filename = getattr(code, "co_filename", None) if event == "exec" else (args[1] if len(args) > 1 else None)
        if isinstance(filename, bytes):
            filename = os.fsdecode(filename)
        if isinstance(filename, str):
            self.patched.add(filename)

    def _check_setattr(self, event, args):
        target, name = args[0], args[1] if len(args) > 1 else ""
        if not self._from_patched():
            return
        module = getattr(target, "__module__", "") or ""
        if name == "__code__" or _pytest_module(module) or module == __name__ or \
                (isinstance(target, type) and not self._repository_module(module)):
            self._flag(f"{event} {getattr(target, '__qualname__', target)}.{name} from patched code")

    def _repository_module(self, name):
        module = sys.modules.get(name)
        filename = getattr(module, "__file__", None)
        return bool(filename) and _inside(os.path.realpath(filename), self.workdir)

    def _from_patched(self):
        frame = sys._getframe(1)
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename in self.patched or self._realpath(filename) in self.patched:
                return True
            frame = frame.f_back
        return False

    def _realpath(self, filename):
        real = self._real.get(filename)
        if real is None:
            real = self._real[filename] = os.path.realpath(filename) if filename.startswith("/") else filename
        return real

    def _flag(self, what):
        if len(self.events) < 50 and what not in self.events:
            self.events.append(what)


def fingerprint():
    """Every attribute of pytest's and pluggy's modules and of their classes, with each function's
    code and defaults. The objects themselves are kept (not their ids, which a replacement could
    reuse once the original is freed)."""
    prints = {}
    for name, module in list(sys.modules.items()):
        if module is None or not _pytest_module(name):
            continue
        prints[name] = (module, {k: _parts(v) for k, v in list(vars(module).items()) if not k.startswith("__")})
        for key, value in list(vars(module).items()):
            if isinstance(value, type) and getattr(value, "__module__", None) == name:
                prints[f"{name}.{key}"] = (value, {k: _parts(v) for k, v in list(vars(value).items())
                                                        if k not in ("__dict__", "__weakref__", "__doc__")})
    return prints


def _parts(value):
    function = getattr(value, "__func__", value)
    return (value, getattr(function, "__code__", None), getattr(function, "__defaults__", None))


def _same(a, b):
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def changed_fingerprints(before, after):
    changed = []
    for name, (owner, attrs) in before.items():
        now = after.get(name)
        if now is None:
            continue  # a module dropped from sys.modules is reported by what replaced it, if anything
        if now[0] is not owner:
            changed.append(name)
            continue
        changed.extend(f"{name}.{key}" for key, value in attrs.items()
                       if key not in now[1] or not _same(now[1][key], value))
    return changed


def make_plugin(pytest, guard, workdir):
    """The grader's pytest plugin (defined once pytest is importable)."""
    outcomes = sys.modules["_pytest.outcomes"]
    skip_types = (outcomes.Skipped, outcomes.XFailed)

    class GraderPlugin:
        def __init__(self):
            self.phases = {}
            self.collected = 0
            self.tampered = []
            self.baseline = {}

        def snapshot(self):
            self.baseline = fingerprint()

        def _flag(self, what):
            if what not in self.tampered and len(self.tampered) < 50:
                self.tampered.append(what)

        @pytest.hookimpl(hookwrapper=True, tryfirst=True)
        def pytest_runtest_makereport(self, item, call):
            raised = call.excinfo
            pending = getattr(item, "_excinfo", None)  # unittest items keep theirs until makereport
            if raised is None and pending:
                raised = pending[0]
            outcome = yield
            report = outcome.get_result()
            self._record(item, call.when, raised, report)

        def _record(self, item, when, raised, report):
            marked_xfail = any(True for _ in item.iter_markers(name="xfail"))
            genuine = raised is not None and not raised.errisinstance(skip_types) \
                and not raised.errisinstance(outcomes.Exit)
            if genuine and report.outcome != "failed" and not (marked_xfail and hasattr(report, "wasxfail")):
                self._flag(f"{item.nodeid} ({when}): raised {raised.typename} but was reported {report.outcome}")
                status = "FAILED"
            elif report.outcome == "failed":
                status = "FAILED" if when == "call" else "ERROR"
            elif report.outcome == "skipped":
                status = "XFAIL" if hasattr(report, "wasxfail") else "SKIPPED"
                if raised is not None and raised.errisinstance(skip_types) and self._raised_by_patch(raised):
                    status += "_BY_PATCH"
                elif status == "XFAIL" and not marked_xfail and raised is None:
                    status = "XFAIL_BY_PATCH"
            else:
                status = "XPASS" if hasattr(report, "wasxfail") else "PASSED"
            self.phases.setdefault(item.nodeid, {})[when] = status

        def _raised_by_patch(self, excinfo):
            """The innermost frame outside pytest, pluggy and unittest is in a patched file."""
            source = None
            for entry in excinfo.traceback:
                filename = str(entry.path)
                if not any(part in filename for part in ("/_pytest/", "/pluggy/", "/unittest/")):
                    source = filename
            return source is not None and (source in guard.patched or os.path.realpath(source) in guard.patched)

        @pytest.hookimpl(trylast=True)
        def pytest_collection_finish(self, session):
            self.collected = len(session.items)
            for item in session.items:
                self._check_origin(item)

        def _check_origin(self, item):
            module = getattr(item, "module", None)
            if module is None:
                return
            loader = type(getattr(module, "__loader__", None)).__name__
            filename = getattr(module, "__file__", "") or ""
            location = getattr(item, "path", None) or getattr(item, "fspath", None) or filename
            if loader not in ("AssertionRewritingHook", "SourceFileLoader") or \
                    os.path.realpath(filename) != os.path.realpath(str(location)):
                self._flag(f"{item.nodeid}: test module loaded by {loader} from {filename}")
            code = getattr(getattr(item, "function", None), "__code__", None)
            source = os.path.realpath(code.co_filename) if code is not None else ""
            if source in guard.patched:
                self._flag(f"{item.nodeid}: the test function's code comes from patched file {source}")

        def finish(self):
            for name in changed_fingerprints(self.baseline, fingerprint()):
                self._flag(f"pytest internals changed: {name}")
            for hook in list(sys.meta_path) + list(sys.path_hooks):
                origin = getattr(sys.modules.get(getattr(hook, "__module__", "") or ""), "__file__", None) or ""
                if origin and (origin in guard.patched or os.path.realpath(origin) in guard.patched):
                    self._flag(f"import hook {hook!r} defined by patched code")

        def statuses(self):
            out = {}
            for nodeid, phases in self.phases.items():
                status = phases.get("call") or phases.get("setup") or "ERROR"
                if phases.get("setup") in ("ERROR", "FAILED"):
                    status = "ERROR"
                if phases.get("teardown") in ("ERROR", "FAILED"):
                    status = "ERROR"
                out[nodeid] = status
            return out

    return GraderPlugin()


def trusted_plugins(workdir):
    """``-p`` arguments for the ``pytest11`` entry points of distributions installed outside
    ``workdir`` (what autoload would load, minus anything the repository could have declared)."""
    args = []
    try:
        from importlib import metadata

        for dist in metadata.distributions():
            location = str(getattr(dist, "_path", "") or "")
            if not location or _inside(os.path.realpath(location), workdir):
                continue
            for entry in dist.entry_points:
                if entry.group == "pytest11":
                    args += ["-p", entry.value.split(":")[0]]
    except Exception:  # noqa: BLE001 - Python < 3.8 or broken metadata: no third-party plugins
        return []
    return args


def trusted_modules(workdir):
    """Top-level module names importable without the repository (for the shadowing rule)."""
    import pkgutil

    paths = [p for p in sys.path if p and not _inside(os.path.realpath(p), workdir)]
    names = set(sys.builtin_module_names) | set(getattr(sys, "stdlib_module_names", ()))
    names.update(info[1] for info in pkgutil.iter_modules(paths))
    return sorted(names)


def _isolate(workdir):
    for name in _DROPPED_VARS:
        os.environ.pop(name, None)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    head = [p for p in sys.path if p and os.path.realpath(p) != workdir]
    sys.path[:] = head + [workdir]
    sys.dont_write_bytecode = True


def run(results_path, workdir, patched_list, pytest_args):
    nonce = sys.stdin.readline().strip()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    results = os.open(results_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(patched_list) as handle:
        patched = [os.path.realpath(os.path.join(workdir, line)) for line in handle.read().split("\0") if line]
    _isolate(workdir)
    guard = Guard(patched, workdir, results_path)
    if hasattr(sys, "addaudithook"):
        sys.addaudithook(guard.hook)
    import importlib

    import pytest

    config = importlib.import_module("_pytest.config")
    for name in getattr(config, "default_plugins", ()):
        try:
            importlib.import_module("_pytest." + name)
        except ImportError:
            pass
    plugin = make_plugin(pytest, guard, workdir)
    plugin.snapshot()
    args = ["-p", "no:cacheprovider", "--rootdir", workdir, "--confcutdir", workdir] + trusted_plugins(workdir)
    code = int(pytest.main(args + list(pytest_args), plugins=[plugin]))
    plugin.finish()
    report = {"nonce": nonce, "exit": code, "collected": plugin.collected, "statuses": plugin.statuses(),
              "tampered": plugin.tampered + guard.events}
    os.write(results, json.dumps(report).encode())
    os.close(results)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv):
    if len(argv) == 3 and argv[1] == "modules":
        print(json.dumps(trusted_modules(os.path.realpath(argv[2]))))
        return 0
    if len(argv) >= 6 and argv[1] == "run" and argv[5] == "--":
        run(argv[2], os.path.realpath(argv[3]), argv[4], argv[6:])
    print("usage: grader_runner.py modules WORKDIR | run RESULTS WORKDIR PATCHED -- PYTEST_ARGS", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
