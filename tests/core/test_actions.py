import pytest

from agentrl.core.actions import ActionFormat, extract_tag, extract_tags


def test_extract_tag_returns_last_and_strips():
    text = "<answer> Up </answer> thinking... <answer>Left</answer>"
    assert extract_tag(text, "answer") == "Left"
    assert extract_tags(text, "answer") == ["Up", "Left"]
    assert extract_tag("no tags here", "answer") is None


def test_multiple_actions_are_split_and_capped():
    fmt = ActionFormat(max_actions=2)
    parsed = fmt.parse("<think>go</think><answer>Up || Left || Down</answer>")
    assert parsed.ok and parsed.actions == ("Up", "Left") and parsed.dropped == 1


def test_untagged_text_is_read_whole_unless_tag_required():
    assert ActionFormat().parse("<think>hmm</think> Up").actions == ("Up",)
    strict = ActionFormat(require_tag=True).parse("Up")
    assert not strict.ok and "<answer>" in strict.error


@pytest.mark.parametrize("text", ["", "<answer>   </answer>", "<answer>||</answer>"])
def test_empty_actions_are_errors(text):
    parsed = ActionFormat().parse(text)
    assert not parsed.ok and parsed.actions == ()


def test_non_text_is_an_error_not_an_exception():
    parsed = ActionFormat().parse(None)  # type: ignore[arg-type]
    assert not parsed.ok and "text" in parsed.error


def test_invalid_cap_rejected():
    with pytest.raises(ValueError):
        ActionFormat(max_actions=0)


def test_repeated_texts_parse_once_and_the_cached_result_cannot_be_corrupted():
    fmt = ActionFormat(max_actions=2)
    first = fmt.parse("<answer>Up || Left</answer>")
    again = fmt.parse("<answer>Up || Left</answer>")
    assert again is first and isinstance(first.actions, tuple)  # immutable: nothing can edit the cache
    assert ActionFormat(max_actions=1).parse("<answer>Up || Left</answer>").actions == ("Up",)  # per format
    long = "<answer>" + "x" * 300 + "</answer>"
    assert fmt.parse(long) is not fmt.parse(long) and fmt.parse(long).actions == ("x" * 300,)
