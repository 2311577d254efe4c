"""The examples in docs/rewards.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "rewards.md"


def test_doc_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 6
    namespace: dict = {}
    for block in blocks:  # later examples build on earlier ones, as a reader would run them
        exec(compile(block, str(DOC), "exec"), namespace)
    printed = capsys.readouterr().out
    assert "[0.3, 1.5]" in printed and "[0.0, 0.0]" in printed and "[0.3, 0.5]" in printed
    assert "[2.2, 5.5]" in printed and "[2.0, 2.0]" in printed  # the stall loophole, then capped
    assert "['calm', 'calm_judged', 'dra', 'gamma', 'gra', 'reward']" in printed
