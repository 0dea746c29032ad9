import pytest

from gridcase.core.profile.formulas import FormulaError, parse


def test_public_figures_evaluate_exactly():
    closure = parse("closed / close_due")
    assert round(closure.evaluate({"closed": 911, "close_due": 972}) * 100, 2) == 93.72
    assert (
        round(
            parse("closed_on_time / close_due").evaluate({"closed_on_time": 737, "close_due": 972}) * 100, 2
        )
        == 75.82
    )
    assert closure.names == {"closed", "close_due"}


def test_nothing_to_divide_by_gives_none_not_an_error():
    assert parse("closed / close_due").evaluate({"closed": 0, "close_due": 0}) is None
    assert parse("(filed - voided) / filed + 1").evaluate({"filed": 0, "voided": 0}) is None
    assert parse("min(a, b) * 100").evaluate({"a": 0.5, "b": 0.75}) == 50


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "a.b",
        "a[0]",
        "a ** 2",
        "lambda: 1",
        "a if b else c",
        "'text'",
        "a < b",
        "max(a, key=b)",
        "True + 1",
    ],
)
def test_anything_but_arithmetic_is_refused(text):
    with pytest.raises(FormulaError):
        parse(text)
