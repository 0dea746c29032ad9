"""The one rule for text: what every entry point refuses and what every encoder never emits."""

import re

import pytest

from gridcase.core.errors import GridcaseError
from gridcase.core.text import PATTERN, check_fields, check_text, clean_text

BAD = [
    "x\ud800",
    "\udfff",
    "a\x00b",
    "\x01",
    "\x08",
    "\x0b",
    "\x0c",
    "\x1f",
    "\x7f",
    "\x85",
    "\ufffe",
    "\uffff",
]
GOOD = ["", "井盖缺失", "tab\there", "two\nlines", "windows\r\nlines", "emoji 🚧", "\u00a0nbsp", "\U0010fffd"]


@pytest.mark.parametrize("value", BAD)
def test_illegal_text_is_refused_naming_the_field(value):
    with pytest.raises(GridcaseError) as caught:
        check_text(value, "description")
    assert caught.value.code == "invalid_text"
    assert caught.value.details == {"field": "description"}
    assert "description" in caught.value.message
    assert re.fullmatch(PATTERN, value) is None  # the published pattern says the same
    assert re.fullmatch(PATTERN, clean_text(value))  # and the cleaned text passes it


@pytest.mark.parametrize("value", GOOD)
def test_legal_text_is_taken_unchanged(value):
    assert check_text(value, "description") is value
    assert re.fullmatch(PATTERN, value)
    assert clean_text(value) == value


def test_a_forms_keys_and_values_are_checked():
    check_fields({"name": "张三", "count": 3})
    with pytest.raises(GridcaseError, match="phone"):
        check_fields({"name": "张三", "phone": "1\x00"})
    with pytest.raises(GridcaseError, match="field's name"):
        check_fields({"na\x01me": "张三"})
