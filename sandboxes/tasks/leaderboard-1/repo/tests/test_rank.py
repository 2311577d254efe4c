from leaderboard import ranking, top


def test_distinct_scores():
    assert ranking({"a": 1, "b": 3, "c": 2}) == ["b", "c", "a"]


def test_top():
    assert top({"a": 1, "b": 3, "c": 2, "d": 0}, n=2) == ["b", "c"]
