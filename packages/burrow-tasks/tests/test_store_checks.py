"""The checks stores share: a payload is JSON text as the standard library's ``json`` reads
it, without NaN and Infinity, whichever parser answers first; a counter's id is read only in
the spelling it was handed out in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from burrow_tasks import PayloadError
from burrow_tasks.store_checks import counter_id, require_json_text


def _json_reads(text: str) -> bool:
    """``json`` reads it (without NaN and Infinity) and UTF-8 can encode it: JSON text."""

    def refuse(name: str) -> Any:
        raise ValueError(name)

    try:
        json.loads(text, parse_constant=refuse)
        text.encode()
    except (ValueError, RecursionError):
        return False
    return True


def _check_accepts(text: str) -> bool:
    try:
        require_json_text(text, 0)
    except PayloadError:
        return False
    return True


@given(st.text(alphabet=st.sampled_from('{}[]",:0123456789.eE+-truefalsn \\u\t\ud800é')))
@example('"\\ud800"')
@example('"\ud800"')
@example("[1,]")
@example("1e400")
def test_the_check_agrees_with_json_on_any_text(text: str) -> None:
    assert _check_accepts(text) == _json_reads(text)


@given(
    st.recursive(
        st.none() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
def test_the_check_accepts_whatever_json_writes(value: object) -> None:
    require_json_text(json.dumps(value, ensure_ascii=False), 0)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "[1, NaN]"])
def test_the_check_refuses_nan_and_infinity(constant: str) -> None:
    with pytest.raises(PayloadError, match="payload of job 3 is not valid JSON text"):
        require_json_text(constant, 3)


def test_the_check_accepts_nesting_deeper_than_the_fast_parser_reads() -> None:
    require_json_text("[" * 250 + "]" * 250, 0)


def test_the_check_accepts_an_escaped_lone_surrogate_as_json_does() -> None:
    require_json_text('"\\ud800"', 0)


def test_nesting_too_deep_for_json_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="payload of job 0 is not valid JSON text"):
        require_json_text("[" * 100_000 + "]" * 100_000, 0)


def test_a_payload_that_is_not_text_is_refused_by_its_type() -> None:
    with pytest.raises(PayloadError, match="payload of job 1 is bytes, not JSON text"):
        require_json_text(b"{}", 1)


@pytest.mark.parametrize("job_id", ["0", "7", str(2**63 - 1)])
def test_counter_id_reads_an_id_as_it_was_handed_out(job_id: str) -> None:
    assert counter_id(job_id) == int(job_id)


@pytest.mark.parametrize("job_id", [str(2**63), "9" * 20, "9" * 5000])
def test_counter_id_takes_no_number_above_the_maximum(job_id: str) -> None:
    assert counter_id(job_id) is None


def test_counter_id_takes_a_maximum_of_the_stores() -> None:
    assert counter_id("1000", maximum=999) is None
    assert counter_id("999", maximum=999) == 999


@pytest.mark.parametrize(
    "job_id", ["07", "00", " 7", "7 ", "+7", "-7", "7_0", "\u0667", "", "7.0", 7, None]
)
def test_counter_id_takes_no_other_spelling_of_a_number(job_id: object) -> None:
    assert counter_id(job_id) is None
