"""Code in the docs is run, so the guides stay true.

Every ```python block of docs/*.md runs on its own, in a fresh namespace and an empty
current folder, as a reader would paste it. A block the guide asks you to save as a file says so in
an HTML comment on the line before it (``<!-- file: guess_env.py -->``): it is written to the
current folder for the doc's other blocks, as the reader would have it. A block that cannot run here
says why the same way: ``<!-- not run: needs a GPU and vLLM -->``. docs/rewards.md is a tutorial
whose blocks build on each other; tests/rewards/test_rewards_docs.py runs it in order. The
``agentrl`` lines of custom_env.md's command-line section run too. README.md's block trains the
whole quickstart preset (minutes), so it is not run here.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: Docs whose blocks build on each other (run in order by their own test).
SEQUENTIAL = {"rewards.md": "tests/rewards/test_rewards_docs.py"}
BLOCK = re.compile(r"(?:<!-- (?:not run: (?P<reason>[^>]*?)|file: (?P<file>\S+)) -->\n)?```python\n(?P<code>.*?)```",
                   flags=re.DOTALL)


def python_blocks(path: Path) -> list[tuple[str, str | None]]:
    """``(code, reason it is not run or None)`` for every python block of ``path``."""
    return [(m["code"], m["reason"]) for m in BLOCK.finditer(path.read_text())]


def file_blocks(path: Path) -> dict[str, str]:
    """The blocks of ``path`` that the reader saves as files: ``{file name: code}``."""
    return {m["file"]: m["code"] for m in BLOCK.finditer(path.read_text()) if m["file"]}


def all_blocks() -> list:
    cases = []
    for path in sorted(DOCS.glob("*.md")):
        if path.name in SEQUENTIAL:
            continue
        for number, (code, reason) in enumerate(python_blocks(path), start=1):
            marks = [pytest.mark.skip(reason=f"not run: {reason}")] if reason else []
            cases.append(pytest.param(path, code, id=f"{path.name}#{number}", marks=marks))
    return cases


@pytest.mark.parametrize("path,code", all_blocks())
def test_block_runs_alone(path, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, text in file_blocks(path).items():
        (tmp_path / name).write_text(text)
    exec(compile(code, str(path), "exec"), {"__name__": "__docs__"})


def test_skipped_blocks_say_why():
    for path in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for _, reason in python_blocks(path):
            assert reason is None or len(reason.split()) >= 3, f"{path.name}: give a reason a reader understands"


def test_sequential_docs_have_their_own_test():
    for name, test in SEQUENTIAL.items():
        assert name in (ROOT / test).read_text()


def test_add_your_own_environment_guide(tmp_path, monkeypatch, capsys):
    """The custom-env guide's blocks, each alone, print what the guide says they print; its command
    lines (--import, module:Env-v0, train, then eval of the trained run) work as written."""
    import shlex

    from agentrl.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    doc = DOCS / "custom_env.md"
    for name, text in file_blocks(doc).items():
        (tmp_path / name).write_text(text)
    for code, _ in python_blocks(doc):
        exec(compile(code, str(doc), "exec"), {"__name__": "__docs__"})
    printed = capsys.readouterr().out
    assert "25: lower\nThe number is between 1 and 24." in printed
    assert "{'found': 0.0, 'step': -0.05, 'format': 0.0}" in printed
    assert "\n1.0\n" in printed
    assert (tmp_path / "runs/guess/learning_curves.png").exists()
    section = doc.read_text().split("## From the command line", 1)[1]
    commands = [line for line in re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)[0].splitlines()
                if line.startswith("agentrl ")]
    assert len(commands) == 5
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("10\nquit\n"))
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0, command
    assert json.loads((tmp_path / "guess.json").read_text())["summary"]["success_rate"] == 1.0
    assert json.loads((tmp_path / "random.json").read_text())["env_kwargs"] == {"high": 50}
    assert list((tmp_path / "runs/guess-cli/evals").glob("checkpoint-iter-*.json"))


def test_guide_env_passes_conformance(tmp_path, monkeypatch):
    from gymnasium.utils.env_checker import check_env

    import agentrl

    monkeypatch.chdir(tmp_path)
    exec(compile(file_blocks(DOCS / "custom_env.md")["guess_env.py"], "guess_env.py", "exec"), {})
    check_env(agentrl.make("agentrl/GuessNumber-v0").unwrapped)
