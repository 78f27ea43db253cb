"""A task's spec and item as stored (`sql.task_values`): both backends' writing of added
tasks (`value_text`) and the claims' reading (`stored_value`) skip `json` for the
commonest values, and must write and read exactly what `json` does for every value."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobdash.core.store.sql.task_values import SHORT_STRING
from jobdash.core.store.sql.task_values import stored_value as _value
from jobdash.core.store.sql.task_values import value_text as _json

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=SHORT_STRING + 20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@given(JSON)
def test_a_value_is_written_and_read_as_json_does(value: Any) -> None:
    text = _json(value)
    assert text == json.dumps(value)
    back = _value(text)
    assert back == json.loads(text)
    assert type(back) is type(json.loads(text))


@pytest.mark.parametrize("text", ["007", "-0", "1e3", "١٢", " 1", "1 ", '"a"', "", "[1]"])
def test_texts_json_would_read_otherwise_are_left_to_it(text: str) -> None:
    try:
        expected: Any = json.loads(text)
    except ValueError as e:
        with pytest.raises(type(e)):
            _value(text)
    else:
        assert _value(text) == expected and type(_value(text)) is type(expected)
