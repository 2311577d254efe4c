"""Reading a git patch file by file, and the rules for which of the agent's file changes grading keeps.

:func:`split_patch` cuts a patch into :class:`FilePatch` chunks and reads each chunk's paths from
every place git writes them (the ``diff --git`` header, ``---``/``+++``, ``rename``/``copy``
lines), unquoting git's C-style quoting (``"tests/caf\\303\\251 x.py"``). A chunk whose paths
cannot be read, or whose sources disagree, is *unreadable*, and grading drops it: a chunk is kept
only when grading knows exactly which files it touches.

:func:`drop_reason` says why a changed path must not reach the grader (``None``: keep it). The
rules follow SWE-bench, where the official test patch's files are reset before the tests run, and
are stricter:

* files the official test patch touches, and ``__init__.py`` next to an official test file;
* test files **by file name only** (``test_*.py``, ``*_test.py``, ``tests.py``, ``conftest.py``);
  library code in folders named ``test/``, ``tests/`` or ``testing/`` (``django/test/testcases.py``,
  ``numpy/testing/...``) is code and is kept;
* test-runner configuration (``pytest.ini``, ``.pytest.ini``, ``pytest.toml``, ``.pytest.toml``,
  ``tox.ini``, ``setup.cfg``, ``pyproject.toml``): grading uses the base commit's;
* interpreter start-up files (``sitecustomize.py``, ``usercustomize.py``, ``*.pth``), packaging
  metadata (``*.dist-info/``, ``*.egg-info/``, ``*.egg-link``: plugin entry points), bytecode caches
  (``__pycache__/``, ``*.pyc``), git metadata (``.gitattributes``, ``.gitmodules``);
* symbolic links and submodules (a link can point a test file anywhere);
* a new module that would shadow one the test run imports (``pytest.py``, ``json.py``...): see
  :func:`shadowed_module`.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

TEST_FILE_PATTERNS = ("test_*.py", "*_test.py", "tests.py", "conftest.py")
CONFIG_FILES = ("pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "tox.ini", "setup.cfg", "pyproject.toml")
STARTUP_PATTERNS = ("sitecustomize.py", "usercustomize.py", "*.pth")
METADATA_SUFFIXES = (".dist-info", ".egg-info")
GIT_METADATA = (".gitattributes", ".gitmodules")
BYTECODE_PATTERNS = ("*.pyc", "*.pyo")
#: File suffixes Python imports a module from (``.cpython-311-x86_64-linux-gnu.so`` ends in ``.so``).
MODULE_SUFFIXES = (".py", ".pyc", ".so", ".pyd", ".pyw")
SYMLINK_MODE, GITLINK_MODE = "120000", "160000"
UNREADABLE = "unreadable patch chunk (its file paths cannot be read unambiguously)"

_HEADER = re.compile(r"^diff --git ", re.MULTILINE)
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


@dataclass
class FilePatch:
    """One file's chunk of a git patch."""

    text: str
    old_path: str | None = None
    """The path before the change (``None`` for a created file)."""
    new_path: str | None = None
    """The path after the change (``None`` for a deleted file)."""
    modes: set[str] = field(default_factory=set)
    """Every file mode the chunk names (``100644``, ``120000`` for a symlink, ...)."""
    readable: bool = True

    @property
    def paths(self) -> list[str]:
        return list(dict.fromkeys(p for p in (self.old_path, self.new_path) if p))

    @property
    def created(self) -> bool:
        return self.old_path is None and self.new_path is not None


def unquote(text: str) -> str | None:
    """Git's C-style quoted path (with its quotes) to the path; ``None`` if malformed."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return None
    body, out, index = text[1:-1], bytearray(), 0
    while index < len(body):
        char = body[index]
        if char == '"':
            return None
        if char != "\\":
            out += char.encode("utf-8", "surrogateescape")
            index += 1
            continue
        escape = body[index + 1 : index + 2]
        if escape in _ESCAPES:
            out.append(_ESCAPES[escape])
            index += 2
        elif re.fullmatch(r"[0-7]{3}", body[index + 1 : index + 4]):
            out.append(int(body[index + 1 : index + 4], 8) & 0xFF)
            index += 4
        else:
            return None
    return out.decode("utf-8", "surrogateescape")


def _split_quoted(text: str) -> tuple[str, str] | None:
    """The first token of ``text`` when it is quoted: (token, rest)."""
    index = 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == '"':
            return text[: index + 1], text[index + 1 :]
        index += 1
    return None


def _header_paths(rest: str) -> tuple[str | None, str | None]:
    """``a/X b/Y`` of a ``diff --git`` header; unquoted names with spaces are read only when both
    sides are the same path (otherwise the ``rename``/``---`` lines must say)."""
    if rest.startswith('"'):
        split = _split_quoted(rest)
        if split is None or not split[1].startswith(" "):
            return None, None
        first, second = unquote(split[0]), split[1][1:]
    elif ' "' in rest:
        first, second = rest.split(' "', 1)
        second = '"' + second
    else:
        if len(rest) % 2 == 0 or len(rest) < 7:
            return None, None
        half = (len(rest) - 1) // 2
        first, second = rest[:half], rest[half + 1 :]
        if rest[half] != " " or first[2:] != second[2:]:
            return None, None
    if second.startswith('"'):
        second = unquote(second)
    if not first or not second or not first.startswith("a/") or not second.startswith("b/"):
        return None, None
    return first[2:], second[2:]


def _path_value(text: str, prefix: str | None) -> str | None:
    """A path from a ``---``/``+++``/``rename`` line (``None``: /dev/null or malformed)."""
    text = text.removesuffix("\t")  # git ends a name that contains spaces with a tab here
    if text.startswith('"'):
        text = unquote(text) or ""
    if text == "/dev/null" or not text:
        return None
    if prefix:
        if not text.startswith(prefix):
            return ""
        text = text[len(prefix) :]
    return text


def _safe(path: str | None) -> bool:
    if path is None:
        return True
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and all(part not in ("", ".", "..") for part in parts) \
        and "\x00" not in path and ".git" not in parts


def parse_chunk(text: str) -> FilePatch:
    """One ``diff --git`` chunk (see module docstring)."""
    lines = text.split("\n")
    chunk = FilePatch(text)
    header_old, header_new = _header_paths(lines[0][len("diff --git "):])
    minus = plus = renamed_from = renamed_to = ""
    created = deleted = False
    for line in lines[1:]:
        if line.startswith(("@@", "GIT binary patch", "Binary files ")):
            break
        for key, mode_name in (("old mode ", ""), ("new mode ", ""), ("deleted file mode ", "deleted"),
                               ("new file mode ", "created")):
            if line.startswith(key):
                chunk.modes.add(line[len(key):].strip())
                created = created or mode_name == "created"
                deleted = deleted or mode_name == "deleted"
        if line.startswith("index ") and len(line.split()) == 3:
            chunk.modes.add(line.split()[2])
        if line.startswith("--- "):
            minus = _path_value(line[4:], "a/")
        elif line.startswith("+++ "):
            plus = _path_value(line[4:], "b/")
        elif line.startswith(("rename from ", "copy from ")):
            renamed_from = _path_value(line.split(" ", 2)[2], None)
        elif line.startswith(("rename to ", "copy to ")):
            renamed_to = _path_value(line.split(" ", 2)[2], None)
    old_sources = [p for p in (header_old, minus, renamed_from) if p not in ("", None)]
    new_sources = [p for p in (header_new, plus, renamed_to) if p not in ("", None)]
    if "" in (minus, plus) and (minus == "" and lines_have(lines, "--- ") or plus == "" and lines_have(lines, "+++ ")):
        chunk.readable = False  # a ---/+++ line without the a/ b/ prefixes
    if len(set(old_sources)) > 1 or len(set(new_sources)) > 1 or not (old_sources or new_sources):
        chunk.readable = False
    chunk.old_path = None if created else (old_sources[0] if old_sources else None)
    chunk.new_path = None if deleted else (new_sources[0] if new_sources else None)
    if chunk.old_path is None and chunk.new_path is None:
        chunk.readable = False
    if not (_safe(chunk.old_path) and _safe(chunk.new_path)):
        chunk.readable = False
    return chunk


def lines_have(lines: list[str], prefix: str) -> bool:
    return any(line.startswith(prefix) for line in lines[1:] if not line.startswith("@@"))


def split_patch(patch: str) -> list[FilePatch]:
    """A git patch cut into one :class:`FilePatch` per ``diff --git`` chunk (text before the
    first chunk, such as a mail header, is not part of any chunk)."""
    starts = [m.start() for m in _HEADER.finditer(patch)]
    return [parse_chunk(patch[a:b]) for a, b in zip(starts, starts[1:] + [len(patch)])]


def patch_paths(patch: str) -> list[str]:
    """Every path a patch touches (both sides of a rename), readable chunks only."""
    paths: list[str] = []
    for chunk in split_patch(patch):
        if chunk.readable:
            paths.extend(p for p in chunk.paths if p not in paths)
    return paths


# --------------------------------------------------------------------------------------- rules
def _name_matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def path_reason(path: str, official_test_files: Iterable[str] = ()) -> str | None:
    """Why a change to ``path`` must not reach the grader, judged from the path alone (``None``: keep)."""
    official = set(official_test_files)
    parts = path.split("/")
    name = parts[-1]
    if path in official:
        return "official test file"
    if name == "__init__.py" and any(posixpath.dirname(o) == posixpath.dirname(path) for o in official):
        return "test package __init__.py"
    if _name_matches(name, TEST_FILE_PATTERNS):
        return "test file"
    if name in CONFIG_FILES:
        return "test configuration"
    if _name_matches(name, STARTUP_PATTERNS):
        return "interpreter start-up file"
    if any(part.endswith(METADATA_SUFFIXES) for part in parts) or name.endswith(".egg-link") \
            or name.startswith("__editable__"):
        return "packaging metadata"
    if "__pycache__" in parts or _name_matches(name, BYTECODE_PATTERNS):
        return "bytecode cache"
    if name in GIT_METADATA:
        return "git metadata"
    return None


def is_test_path(path: str, official_test_files: Iterable[str] = ()) -> bool:
    """Whether grading ignores a change to ``path`` (see :func:`path_reason`)."""
    return path_reason(path, official_test_files) is not None


def module_name(path: str) -> str | None:
    """The module name a file defines in its own directory (``json.py`` -> ``json``,
    ``foo.cpython-311-x86_64-linux-gnu.so`` -> ``foo``), or ``None``."""
    name = posixpath.basename(path)
    if not name.endswith(MODULE_SUFFIXES):
        return None
    return name.split(".", 1)[0] or None


def shadowed_module(path: str, package_dirs: set[str], trusted_modules: set[str]) -> str | None:
    """The trusted module a new file would shadow, or ``None``.

    A directory without ``__init__.py`` can end up on ``sys.path`` (pytest puts the first such
    directory above a test file there; the grader appends the repository root), so a new
    ``json.py`` or ``pytest/__init__.py`` in one would replace the real module for the test run.
    ``package_dirs`` are the directories that are packages after the patch; ``trusted_modules`` are
    the top-level names the grader's Python finds outside the repository.
    """
    parts = path.split("/")
    for depth in range(len(parts)):
        if "/".join(parts[:depth]) in package_dirs:
            continue  # inside a package: importable only under the package's own name
        rest = parts[depth:]
        if len(rest) == 1:
            name = module_name(rest[0])
        elif rest[1:] == ["__init__.py"]:
            name = rest[0]
        else:
            continue
        if name and name in trusted_modules:
            return name
    return None


@dataclass
class Triage:
    """A patch split into what grading applies and what it drops."""

    kept: str = ""
    kept_paths: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    """Path -> why it was dropped."""


def triage(patch: str, official_test_files: Iterable[str] = (), *, base_files: Iterable[str] = (),
           trusted_modules: Iterable[str] = ()) -> Triage:
    """Keep the chunks grading may apply; drop (and explain) the rest (see module docstring).

    ``base_files`` (the repository's files at the base commit) and ``trusted_modules`` enable the
    shadowing rule; without them it is skipped (e.g. for the immediate ``modification`` reward).
    """
    official = list(official_test_files)
    chunks = split_patch(patch)
    result = Triage()
    prelude = patch[: _HEADER.search(patch).start()] if _HEADER.search(patch) else patch
    if prelude.strip() and not chunks:
        result.dropped["<patch>"] = UNREADABLE
    trusted = set(trusted_modules)
    package_dirs = _package_dirs(base_files, chunks) if trusted else set()
    base = set(base_files)
    for chunk in chunks:
        reason = _chunk_reason(chunk, official)
        if reason is None and trusted:
            for path in chunk.paths:
                if path not in base:
                    shadowed = shadowed_module(path, package_dirs, trusted)
                    if shadowed:
                        reason = f"shadows the module {shadowed!r} that the test run imports"
                        break
        if reason is None:
            result.kept += chunk.text
            result.kept_paths.extend(p for p in chunk.paths if p not in result.kept_paths)
        else:
            for path in chunk.paths or ["<unreadable chunk>"]:
                result.dropped.setdefault(path, reason)
    return result


def _chunk_reason(chunk: FilePatch, official: list[str]) -> str | None:
    if not chunk.readable:
        return UNREADABLE
    if SYMLINK_MODE in chunk.modes:
        return "symbolic link"
    if GITLINK_MODE in chunk.modes:
        return "submodule"
    for path in chunk.paths:
        reason = path_reason(path, official)
        if reason:
            return reason
    return None


def _package_dirs(base_files: Iterable[str], chunks: list[FilePatch]) -> set[str]:
    """Directories holding an ``__init__.py`` after the patch."""
    inits = {posixpath.dirname(f) for f in base_files if posixpath.basename(f) == "__init__.py"}
    for chunk in chunks:
        if chunk.old_path and posixpath.basename(chunk.old_path) == "__init__.py" and chunk.new_path is None:
            inits.discard(posixpath.dirname(chunk.old_path))
        if chunk.new_path and posixpath.basename(chunk.new_path) == "__init__.py":
            inits.add(posixpath.dirname(chunk.new_path))
    return inits
