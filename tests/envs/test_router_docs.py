"""The code in docs/router.md runs and prints what the text says."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "router.md"


def test_router_guide_blocks_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) == 3
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})
    printed = capsys.readouterr().out
    assert "HI 1" in printed and "cascade-2" in printed and "oracle" in printed
    first_line = printed.splitlines()[0].split()
    assert first_line[0] in ("0.0", "1.0") and first_line[1:3] == ["True", "1"]  # em, format_ok, num_calls


def test_the_paper_rows_in_the_guide_are_the_ones_router_eval_prints():
    from agentrl.eval.router_eval import PAPER_TABLE

    text = DOC.read_text()
    for name, row in PAPER_TABLE.items():
        cells = " | ".join(f"{v:.3f}" for v in row)
        assert f"| {name} | {cells} | {sum(row) / len(row):.3f} |" in text, name
