"""Git as the harness runs it: a trusted git directory, so nothing the agent configured can act.

The agent owns ``/testbed/.git``: its ``config`` (``diff.noprefix``, ``core.fsmonitor``, filters,
``include.path``, ``core.worktree``...), its hooks, index and refs. None of it is read when the
harness takes the agent's diff or applies a patch. The harness uses its own git directory in
:data:`~agentrl.sandboxes.base.TRUSTED_DIR` (read-only to the agent) with:

* a fixed ``config`` (no hooks, no fsmonitor, no renames, fixed ``a/``/``b/`` prefixes, quoted paths);
* ``info/attributes`` that un-sets every content attribute (``text``, ``eol``, ``filter``, ``diff``,
  ...): git reads ``$GIT_DIR/info/attributes`` before any ``.gitattributes`` in the tree, so the
  agent's attribute files cannot turn on filters, textconv or line-ending conversion;
* ``info/exclude`` for build products, plus pathspec exclusions (an in-tree ``.gitignore`` cannot
  re-include them);
* the repository's objects as read-only alternates (``GIT_ALTERNATE_OBJECT_DIRECTORIES``; a corrupted
  object only spoils the agent's own diff), with new objects and an index of its own in the
  sandbox's scratch directory;
* the clean environment (:meth:`~agentrl.sandboxes.base.Sandbox.run_trusted`), with
  ``GIT_CONFIG_NOSYSTEM``, ``GIT_CONFIG_GLOBAL=/dev/null`` and ``HOME=/nonexistent``.

Diffs are taken with ``--no-ext-diff --no-textconv --no-renames --binary --full-index`` and
explicit ``--src-prefix=a/ --dst-prefix=b/``. Files over :data:`MAX_FILE_BYTES` are left out of
the agent's diff (hashing a sparse 100 GB file would stall the trainer; no fix needs one).
"""

from __future__ import annotations

import shlex

from agentrl.sandboxes.base import TRUSTED_DIR, Sandbox, SandboxError

GIT_DIR = f"{TRUSTED_DIR}/git"
#: Build products that never belong in a patch.
GIT_EXCLUDES = ("__pycache__/", "*.pyc", "*.pyo", ".pytest_cache/", "*.egg-info/")
EXCLUDE_PATHSPECS = (":(exclude,glob)**/__pycache__/**", ":(exclude,glob)**/*.py[co]",
                     ":(exclude,glob)**/.pytest_cache/**")
GIT_CONFIG = """[core]
\trepositoryformatversion = 0
\tbare = false
\tfilemode = true
\tsymlinks = true
\tignorecase = false
\tprecomposeunicode = false
\tautocrlf = false
\tsafecrlf = false
\tfsmonitor = false
\tuntrackedCache = false
\tquotePath = true
\thooksPath = /dev/null
\tsparseCheckout = false
[diff]
\trenames = false
\tnoprefix = false
\tmnemonicPrefix = false
\trelative = false
\texternal =
[apply]
\twhitespace = nowarn
"""
ATTRIBUTES = "* !text !eol !crlf !filter !diff !merge !ident !working-tree-encoding !export-subst !delta\n"
DIFF_OPTIONS = ("--no-color --no-ext-diff --no-textconv --binary --full-index --no-renames "
                "--src-prefix=a/ --dst-prefix=b/")
DIFF_OUTPUT_LIMIT = 64 << 20
#: Larger files never enter the agent's diff.
MAX_FILE_BYTES = 8 << 20


def trusted_git_files(workdir: str) -> tuple[dict[str, bytes], tuple[str, ...]]:
    """The trusted git directory's files and empty directories (relative to TRUSTED_DIR)."""
    files = {
        "git/HEAD": b"ref: refs/heads/agentrl\n",
        "git/config": GIT_CONFIG.encode(),
        "git/info/attributes": ATTRIBUTES.encode(),
        "git/info/exclude": ("\n".join(GIT_EXCLUDES) + "\n").encode(),
    }
    return files, ("git/refs/heads", "git/refs/tags", "git/objects")


def git(sandbox: Sandbox, workdir: str, *, writes_objects: bool = True) -> str:
    """The command prefix that runs the trusted git on ``workdir`` (see module docstring).
    ``writes_objects=False`` (``git apply``, run as the agent) reads objects from the repository
    only and never touches the harness's scratch directory."""
    repository_objects = f"{workdir.rstrip('/')}/.git/objects"
    scratch = sandbox.scratch_dir
    env = {
        "GIT_DIR": GIT_DIR, "GIT_WORK_TREE": workdir, "GIT_INDEX_FILE": f"{scratch}/index",
        "GIT_OBJECT_DIRECTORY": f"{scratch}/objects" if writes_objects else repository_objects,
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": repository_objects if writes_objects else "",
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_ATTR_NOSYSTEM": "1",
        "HOME": "/nonexistent", "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C",
    }
    assignments = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
    prepare = f"mkdir -p {shlex.quote(scratch)}/objects && " if writes_objects else ""
    return f"{prepare}cd {shlex.quote(workdir)} && env {assignments} git -c safe.directory='*' -c core.fsmonitor=false"


def _stage_all(sandbox: Sandbox, workdir: str, base_commit: str) -> str:
    """Shell that fills the trusted index with the working tree (starting from the base tree),
    leaving out build products and files over :data:`MAX_FILE_BYTES`."""
    g = git(sandbox, workdir)
    scratch = shlex.quote(sandbox.scratch_dir)
    specs = "\\0".join([".", *EXCLUDE_PATHSPECS]) + "\\0"
    large = (f"find . -path ./.git -prune -o -type f -size +{MAX_FILE_BYTES // 1024}k "
             f"-printf ':(exclude,literal)%P\\0'")
    return (f"{{ [ -f {scratch}/index ] || {{ {g} read-tree {shlex.quote(base_commit)}; }}; }} && "
            f"{{ printf '{specs}' > {scratch}/pathspec && (cd {shlex.quote(workdir)} && {large}) >> {scratch}/pathspec; }} && "
            f"{{ {g} add -A --ignore-errors --pathspec-from-file={scratch}/pathspec --pathspec-file-nul "
            f">/dev/null 2>&1; true; }}")


def current_diff(sandbox: Sandbox, workdir: str, base_commit: str) -> str:
    """The working tree's changes against ``base_commit`` (new files included), as a git diff.

    The trusted index starts from the base commit's tree, so the agent's own git state (index,
    commits, stashes, config) cannot hide or reshape changes.
    """
    g = git(sandbox, workdir)
    command = f"{_stage_all(sandbox, workdir, base_commit)} && {g} diff --cached {DIFF_OPTIONS} {shlex.quote(base_commit)}"
    result = sandbox.run_trusted(command, timeout=max(sandbox.config.timeout, 120.0), output_limit=DIFF_OUTPUT_LIMIT)
    if not result.ok or result.truncated:
        reason = "it is over the size limit" if result.truncated or result.killed == "output" else result.output[-500:]
        raise SandboxError(f"could not compute the diff (exit {result.exit_code}): {reason}")
    return result.output


def changed_paths(sandbox: Sandbox, workdir: str, base_commit: str) -> list[str]:
    """Paths that differ from ``base_commit`` in the working tree (NUL-separated, so exact)."""
    g = git(sandbox, workdir)
    command = f"{_stage_all(sandbox, workdir, base_commit)} && {g} diff --cached --name-only -z --no-renames {shlex.quote(base_commit)}"
    result = sandbox.run_trusted(command, timeout=max(sandbox.config.timeout, 120.0), output_limit=8 << 20)
    if not result.ok or result.truncated:
        raise SandboxError(f"could not list the changed paths (exit {result.exit_code}): {result.output[-500:]}")
    return [path for path in result.output.split("\x00") if path]


def base_files(sandbox: Sandbox, workdir: str, base_commit: str) -> list[str]:
    """Every file of ``base_commit``'s tree."""
    g = git(sandbox, workdir)
    result = sandbox.run_trusted(f"{g} ls-tree -r -z --name-only {shlex.quote(base_commit)}", timeout=120,
                                 output_limit=32 << 20)
    if not result.ok or result.truncated:
        raise SandboxError(f"could not list the base commit's files: {result.output[-500:]}")
    return [path for path in result.output.split("\x00") if path]


def apply_patch(sandbox: Sandbox, workdir: str, patch: str) -> str:
    """Apply ``patch`` to the working tree as the agent's uid (the files stay the agent's); the
    error text, or "" on success. ``git apply`` refuses paths outside the tree, inside ``.git`` and
    beyond symbolic links."""
    text = patch if patch.endswith("\n") else patch + "\n"
    result = sandbox.run_trusted(f"{git(sandbox, workdir, writes_objects=False)} apply --whitespace=nowarn -", user="agent",
                                 stdin=text.encode("utf-8", "surrogateescape"), timeout=120)
    return "" if result.ok else (result.output.strip()[-2000:] or f"git apply exited with {result.exit_code}")
