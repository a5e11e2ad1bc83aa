"""The cloud-config YAML emitter: whatever it writes, PyYAML reads back as the same data."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from guardian.appliance.yaml_text import YamlError, dump

_keys = st.text(min_size=1, max_size=12)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.text(max_size=40)
    | st.lists(
        st.sampled_from(["line", "  indented", "", "x: y", "# not a comment"]), min_size=1
    ).map(lambda lines: "\n".join(lines) + "\n")
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=5))
def test_any_plain_data_round_trips_through_pyyaml(data: dict[str, object]) -> None:
    assert yaml.safe_load(dump(data)) == (data or None)


def test_multi_line_text_is_written_as_a_literal_block() -> None:
    text = dump({"content": "[Unit]\nDescription=x\n\n[Service]\n"})
    assert text == "content: |\n  [Unit]\n  Description=x\n\n  [Service]\n"


def test_yaml_1_1_booleans_and_numbers_stay_strings() -> None:
    data = {"a": "yes", "b": "no", "c": "on", "d": "0640", "e": "1e3", "f": "null"}
    assert yaml.safe_load(dump(data)) == data


@pytest.mark.parametrize("value", [1.5, b"bytes", {1: "int key"}, object()])
def test_unwritable_values_are_refused(value: object) -> None:
    with pytest.raises(YamlError):
        dump({"key": value})
