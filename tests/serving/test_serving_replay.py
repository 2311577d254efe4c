"""The recorded-response table: keys, JSONL round trip and clear errors on bad records."""

from __future__ import annotations

import json

import pytest

from agentrl.serving.replay import RecordedResponse, ReplayTable, replay_key


def test_key_folds_case_and_whitespace():
    assert replay_key(" GPT-4o ", "a\n b\tc ") == ("gpt-4o", "a b c")


def test_lookup_and_missing_key_lists_models():
    table = ReplayTable([
        {"model": "B", "query": "q", "response": "rb"},
        RecordedResponse("a", "q", "ra", completion_tokens=4, latency_s=0.5),
    ])
    assert len(table) == 2 and table.models() == ["B", "a"]
    assert table.lookup("b", "q").response == "rb"
    assert table.lookup("A", " q ").completion_tokens == 4
    assert table.get("c", "q") is None
    with pytest.raises(KeyError, match="recorded models: B, a"):
        table.lookup("c", "q")


def test_jsonl_round_trip(tmp_path):
    table = ReplayTable([
        {"model": "m", "query": "q1", "response": "r1", "prompt_tokens": 3, "completion_tokens": 2, "latency_s": 0.25},
        {"model": "m", "query": "q2", "response": "r2"},
    ])
    path = tmp_path / "t.jsonl"
    table.to_jsonl(path)
    again = ReplayTable.from_jsonl(path)
    assert sorted(again, key=lambda r: r.query) == sorted(table, key=lambda r: r.query)
    assert "prompt_tokens" not in json.loads(path.read_text().splitlines()[1])


def test_identical_duplicates_are_fine_conflicting_ones_are_not():
    record = {"model": "m", "query": "q", "response": "r"}
    assert len(ReplayTable([record, dict(record)])) == 1
    with pytest.raises(ValueError, match="record 2: a different response"):
        ReplayTable([record, {"model": "M", "query": "q ", "response": "other"}])


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("{oops", "not valid JSON"),
        ('{"model": "m", "query": "q"}', "response"),
        ('{"model": "m", "query": 3, "response": "r"}', "query"),
        ('{"model": "m", "query": "q", "response": "r", "cost": 1}', "unknown field(s) cost"),
        ('[1]', "expected a JSON object"),
    ],
)
def test_bad_records_name_the_line_and_the_problem(tmp_path, line, fragment):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError) as raised:
        ReplayTable.from_jsonl(path)
    assert fragment in str(raised.value)
    assert f"{path}:2" in str(raised.value)  # the blank first line is skipped but still counted
