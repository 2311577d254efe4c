import pytest

from retrykit import retry


def flaky(failures, error=OSError):
    calls = []

    def func():
        calls.append(1)
        if len(calls) <= failures:
            raise error("boom")
        return "ok"

    return func, calls


def test_succeeds_after_failures():
    func, calls = flaky(2)
    assert retry(func, attempts=3) == "ok"
    assert len(calls) == 3


def test_other_errors_propagate_at_once():
    func, calls = flaky(1, error=KeyError)
    with pytest.raises(KeyError):
        retry(func, attempts=3, exceptions=(OSError,))
    assert len(calls) == 1
