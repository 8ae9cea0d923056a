"""The payload codec: JSON text out, validated values back."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from burrow_tasks import JsonCodec, PayloadError, TypedCodec, codec_for


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_untyped_annotations_get_the_json_codec() -> None:
    assert isinstance(codec_for(Any), JsonCodec)
    assert isinstance(codec_for(object), JsonCodec)


def test_the_json_codec_writes_compact_utf8_json() -> None:
    assert JsonCodec().encode({"name": "Zoë", "n": [1, 2]}) == '{"name":"Zoë","n":[1,2]}'


def test_the_json_codec_refuses_nan() -> None:
    with pytest.raises(PayloadError, match="not JSON-serialisable"):
        JsonCodec().encode(float("nan"))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_the_json_codec_writes_what_json_dumps_writes(value: object) -> None:
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    assert JsonCodec().encode(value) == expected


def test_the_json_codec_names_a_type_json_cannot_write() -> None:
    with pytest.raises(PayloadError, match="Object of type set is not JSON serializable"):
        JsonCodec().encode({"tags": {1, 2}})


def test_the_json_codec_refuses_a_value_that_contains_itself() -> None:
    looped: list[object] = []
    looped.append(looped)
    with pytest.raises(PayloadError, match="contains itself or is nested too deeply"):
        JsonCodec().encode(looped)


def test_the_json_codec_encodes_again_after_a_refusal() -> None:
    codec = JsonCodec()
    with pytest.raises(PayloadError):
        codec.encode([1, object()])
    assert codec.encode([1, 2]) == "[1,2]"


def test_a_typed_codec_encodes_and_decodes_a_dataclass() -> None:
    codec: TypedCodec[Point] = TypedCodec(Point)

    text = codec.encode(Point(1, 2))

    assert text == '{"x":1,"y":2}'
    assert codec.decode(text) == Point(1, 2)


def test_a_typed_codec_refuses_a_value_of_the_wrong_shape() -> None:
    codec: TypedCodec[Any] = TypedCodec(Point)
    with pytest.raises(PayloadError, match="payload does not match Point"):
        codec.encode({"x": 1})


def test_a_typed_codec_refuses_stored_text_that_no_longer_validates() -> None:
    with pytest.raises(PayloadError, match="y"):
        TypedCodec(Point).decode('{"x": 1}')


def test_a_type_pydantic_cannot_handle_is_refused_when_the_codec_is_built() -> None:
    class Opaque:
        pass

    with pytest.raises(TypeError, match="cannot build a payload codec"):
        TypedCodec(Opaque)
