from streamstats import summarize


def test_list():
    assert summarize([1, 2, 3, 6]) == {"count": 4, "total": 12, "mean": 3.0}


def test_empty():
    assert summarize([]) == {"count": 0, "total": 0, "mean": 0.0}
