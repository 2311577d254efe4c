"""The SWE agent's text actions: parsing, and running them against a sandbox.

One action per turn, in the answer block. The first word names the tool::

    <answer>bash
    cd src && grep -rn "def page_count" .
    </answer>

    <answer>view pagekit/pages.py 1 20</answer>          (path [first line [last line]]; -1 = end)

    <answer>str_replace pagekit/pages.py
    <old>    return total // per_page
    </old>
    <new>    return -(-total // per_page)
    </new>
    </answer>

    <answer>create notes/plan.txt
    <content>
    first line
    </content>
    </answer>

    <answer>submit</answer>

Inside ``<old>``, ``<new>`` and ``<content>`` text is taken verbatim, except that one newline
right after the opening tag is dropped. ``old`` must occur exactly once in the file. Relative paths
are relative to the repository root (``/testbed``); ``bash`` runs in the persistent session
(``cd`` and ``export`` persist).

The file tools run with the agent's own privileges, in the harness's clean environment (a broken
``PATH`` cannot break them), and check a file's size before reading it. Text that cannot reach a
shell (NUL bytes, lone surrogates) is a malformed action; everything that fails after that is an
observation with ``ok=False``, never an exception.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass

from agentrl.sandboxes.base import FileTooLargeError, Sandbox, SandboxError, SessionDiedError

TOOL_NAMES = ("bash", "view", "str_replace", "create", "submit")
SNIPPET_CONTEXT = 4
MAX_VIEW_BYTES = 4 << 20
MAX_EDIT_BYTES = 4 << 20
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class ActionSyntaxError(ValueError):
    """The action text does not name a tool correctly; the message tells the agent how to fix it."""


@dataclass(frozen=True)
class ToolCall:
    name: str
    path: str = ""
    command: str = ""
    start: int | None = None
    end: int | None = None
    old: str | None = None
    new: str | None = None
    content: str | None = None


@dataclass
class ToolResult:
    ok: bool
    """The tool did what was asked (for ``bash``: exit status 0 and not killed)."""
    output: str
    changed_files: bool = False
    """The call may have changed the working tree (a successful edit, or any bash command)."""
    tests_ran: int = 0
    """Tests the command's pytest sessions really ran (reported by the probe plugin, not read from
    the command's text)."""


def _tag(text: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", text, flags=re.DOTALL)
    if match is None:
        return None
    body = match.group(1)
    return body.removeprefix("\n")


def _check_text(name: str, text: str | None) -> None:
    if text is None:
        return
    if "\x00" in text:
        raise ActionSyntaxError(f"the {name} contains a NUL byte, which no file name or shell command can hold")
    if _LONE_SURROGATE.search(text):
        raise ActionSyntaxError(f"the {name} contains a lone surrogate (not valid Unicode); write valid UTF-8 text")


def parse_tool_call(text: str) -> ToolCall:
    """Read one action (see module docstring); raises :class:`ActionSyntaxError`."""
    call = _parse(text)
    for name in ("path", "command", "old", "new", "content"):
        _check_text("path" if name == "path" else name, getattr(call, name))
    return call


def _parse(text: str) -> ToolCall:
    first, _, rest = text.strip().partition("\n")
    name, _, args = first.strip().partition(" ")
    name, args = name.strip().lower(), args.strip()
    if name not in TOOL_NAMES:
        shown = name if len(name) <= 40 else name[:40] + "..."
        raise ActionSyntaxError(f"unknown tool {shown!r}; the tools are {', '.join(TOOL_NAMES)}")
    if name == "submit":
        return ToolCall("submit")
    if name == "bash":
        command = "\n".join(part for part in (args, rest) if part.strip()).strip()
        if not command:
            raise ActionSyntaxError("bash needs a command, e.g. 'bash ls -la'")
        return ToolCall("bash", command=command)
    if name == "view":
        return _parse_view(args)
    if not args:
        raise ActionSyntaxError(f"{name} needs a file path on its first line, e.g. '{name} src/module.py'")
    if name == "create":
        content = _tag(rest, "content")
        return ToolCall("create", path=args, content=content if content is not None else rest)
    old, new = _tag(rest, "old"), _tag(rest, "new")
    if old is None or new is None:
        raise ActionSyntaxError("str_replace needs <old>exact old text</old> and <new>replacement</new>")
    if not old:
        raise ActionSyntaxError("str_replace needs a non-empty <old> text")
    return ToolCall("str_replace", path=args, old=old, new=new)


def _parse_view(args: str) -> ToolCall:
    try:
        words = shlex.split(args)
    except ValueError as exc:
        raise ActionSyntaxError(f"cannot read the view arguments: {exc}") from exc
    if not 1 <= len(words) <= 3:
        raise ActionSyntaxError("view takes a path and an optional line range: 'view PATH [FIRST [LAST]]'")
    try:
        numbers = [int(word) for word in words[1:]]
    except ValueError as exc:
        raise ActionSyntaxError("view's line numbers must be integers: 'view PATH [FIRST [LAST]]'") from exc
    start = numbers[0] if numbers else None
    end = numbers[1] if len(numbers) > 1 else None
    return ToolCall("view", path=words[0], start=start, end=end)


# ---------------------------------------------------------------------------------- running
def run_tool(call: ToolCall, sandbox: Sandbox, *, timeout: float) -> ToolResult:
    """Run a parsed call (not ``submit``, which the env handles). Only a dead session raises
    (:class:`SessionDiedError`: the env starts a new one); every other failure is a result."""
    try:
        if call.name == "bash":
            return _bash(call, sandbox, timeout)
        if call.name == "view":
            return _view(call, sandbox)
        if call.name == "create":
            return _create(call, sandbox)
        return _str_replace(call, sandbox)
    except SessionDiedError:
        raise
    except FileNotFoundError:
        hint = " Use `create` to make a new file." if call.name == "str_replace" else ""
        return ToolResult(False, f"Error: {sandbox.resolve(call.path)} does not exist.{hint}")
    except IsADirectoryError:
        return ToolResult(False, f"Error: {sandbox.resolve(call.path)} is a directory.")
    except FileTooLargeError as exc:
        return ToolResult(False, f"Error: {exc}. View a line range with bash (sed -n, head, grep) instead.")
    except UnicodeDecodeError:
        return ToolResult(False, f"Error: {sandbox.resolve(call.path)} is not a UTF-8 text file.")
    except (SandboxError, OSError, ValueError) as exc:
        return ToolResult(False, f"Error: {str(exc)[:500]}")


def _bash(call: ToolCall, sandbox: Sandbox, timeout: float) -> ToolResult:
    result = sandbox.run(call.command, timeout=timeout)
    output = result.output
    if result.killed == "timeout":
        output += f"\n[command timed out after {timeout:g}s and was killed; the shell session is still open]"
    elif result.killed == "output":
        output += "\n[command killed: it printed more than the sandbox's output limit]"
    elif result.exit_code != 0:
        output += f"\n[exit code {result.exit_code}]"
    if not output.strip():
        output = "[no output]"
    tests = sum(int(r.get("ran") or 0) for r in result.reports if r.get("kind") == "pytest") if not result.killed else 0
    return ToolResult(result.ok, output, changed_files=True, tests_ran=tests)


def _view(call: ToolCall, sandbox: Sandbox) -> ToolResult:
    path = sandbox.resolve(call.path)
    try:
        data = sandbox.read_file(path, max_bytes=MAX_VIEW_BYTES, user="agent")
    except IsADirectoryError:
        listing = sandbox.run_trusted(f"find {shlex.quote(path)} -maxdepth 2 -not -path '*/.git*' | sort | head -n 2000",
                                      user="agent", timeout=30)
        return ToolResult(listing.ok, listing.output)
    lines = data.decode("utf-8").splitlines()
    first = call.start or 1
    last = len(lines) if call.end in (None, -1) else call.end
    if lines and not (1 <= first <= len(lines) and first <= last):
        return ToolResult(False, f"Error: invalid line range {first}-{last}; {path} has {len(lines)} lines")
    return ToolResult(True, numbered(lines, first, min(last, len(lines))))


def write_text(sandbox: Sandbox, path: str, text: str) -> bool:
    """Write ``text`` to ``path`` as the agent (an existing file keeps its mode); whether it existed."""
    quoted = shlex.quote(path)
    command = (f"existed=0; [ -e {quoted} ] && existed=1; mkdir -p -- {shlex.quote(posixpath.dirname(path))} && "
               f"cat > {quoted} && echo $existed")
    result = sandbox.run_trusted(command, stdin=text.encode("utf-8"), user="agent", timeout=60)
    if not result.ok:
        raise SandboxError(f"cannot write {path}: {result.output.strip()[-300:]}")
    return result.output.strip().endswith("1")


def _create(call: ToolCall, sandbox: Sandbox) -> ToolResult:
    path = sandbox.resolve(call.path)
    content = call.content or ""
    existed = write_text(sandbox, path, content)
    verb = "Overwrote" if existed else "Created"
    return ToolResult(True, f"{verb} {path} ({len(content.splitlines())} lines).", changed_files=True)


def _str_replace(call: ToolCall, sandbox: Sandbox) -> ToolResult:
    path = sandbox.resolve(call.path)
    text = sandbox.read_file(path, max_bytes=MAX_EDIT_BYTES, user="agent").decode("utf-8")
    assert call.old is not None and call.new is not None
    count = text.count(call.old)
    if count == 0:
        return ToolResult(False, f"Error: the <old> text was not found in {path}; it must match exactly, "
                                 "including indentation and blank lines. View the file to copy it.")
    if count > 1:
        return ToolResult(False, f"Error: the <old> text occurs {count} times in {path}; include more "
                                 "surrounding lines so that it occurs once.")
    before = text[: text.index(call.old)]
    updated = before + call.new + text[len(before) + len(call.old):]
    write_text(sandbox, path, updated)
    first = before.count("\n") + 1
    lines = updated.splitlines()
    last = first + max(call.new.count("\n"), 1) - 1
    low, high = max(first - SNIPPET_CONTEXT, 1), min(last + SNIPPET_CONTEXT, len(lines))
    return ToolResult(True, f"Edited {path}. Lines {low}-{high} now read:\n{numbered(lines, low, high)}",
                      changed_files=True)


def numbered(lines: list[str], first: int, last: int) -> str:
    """Lines ``first..last`` (1-based, inclusive) with right-aligned line numbers, as ``cat -n``."""
    return "\n".join(f"{number:>6}\t{lines[number - 1]}" for number in range(first, last + 1))
