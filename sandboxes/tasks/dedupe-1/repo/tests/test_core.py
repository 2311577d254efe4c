from dedupe import unique


def test_keeps_first_seen_order():
    assert unique([3, 1, 3, 2, 1]) == [3, 1, 2]


def test_strings_and_empty():
    assert unique("abracadabra") == ["a", "b", "r", "c", "d"]
    assert unique([]) == []
