"""Argument checks every store makes the same way, so backends agree on what they refuse.

A store may call these; the conformance suite holds every store to the behaviour they
implement, whether it uses them or not.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import NoReturn

from pydantic_core import from_json

from burrow_tasks.errors import PayloadError
from burrow_tasks.jobs import NewJob

__all__ = ["MAX_COUNTER_ID", "check_new_jobs", "check_page", "counter_id", "require_json_text"]


def _refuse_constant(name: str) -> NoReturn:
    # json.loads accepts NaN and Infinity; JSON text does not.
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads with options builds a new decoder per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def require_json_text(payload: object, index: int) -> None:
    """Raise ``PayloadError`` naming job ``index`` unless ``payload`` is valid JSON text,
    as the standard library's ``json`` reads it (without NaN and Infinity), that UTF-8 can
    encode (JSON text is UTF-8: a lone surrogate would pass ``json`` and then fail in the
    database driver, or be kept by one store and refused by another)."""
    if not isinstance(payload, str):
        raise PayloadError(f"payload of job {index} is {type(payload).__name__}, not JSON text")
    # pydantic-core's parser (jiter) checks a small payload in a quarter of json's time, a
    # share of every batch enqueue. It accepts nothing json refuses, but refuses a little that
    # json accepts (nesting deeper than 200, lone surrogates): its refusal goes to json.
    try:
        from_json(payload, allow_inf_nan=False)
    except (ValueError, TypeError):
        pass
    else:
        return
    try:
        _DECODER.decode(payload)
        payload.encode()
    except (ValueError, RecursionError) as error:
        raise PayloadError(f"payload of job {index} is not valid JSON text: {error}") from None


def check_new_jobs(jobs: Sequence[NewJob]) -> None:
    """Check every row of a ``jobs_insert`` before anything is written (rule 5)."""
    for index, job in enumerate(jobs):
        require_json_text(job.payload, index)


def check_page(offset: int, limit: int) -> None:
    """``jobs_list`` pages start at offset >= 0 and hold limit >= 0 jobs."""
    if offset < 0 or limit < 0:
        raise ValueError(f"jobs_list needs offset >= 0 and limit >= 0, got {offset}, {limit}")


MAX_COUNTER_ID = 2**63 - 1
"""The largest id ``counter_id`` reads by default: a signed 64-bit counter's (a SQL bigint)."""


def counter_id(job_id: object, *, maximum: int = MAX_COUNTER_ID) -> int | None:
    """The number behind ``job_id`` for a store whose ids are a counter handed out as
    ``str(n)``, or None when ``job_id`` is no such id: not a string, a number above
    ``maximum``, or another spelling of a number (``"03"``, ``" 3"``, ``"+3"``, ``"3_0"``,
    non-ASCII digits), which names no job rather than aliasing job 3."""
    if (
        isinstance(job_id, str)
        and job_id.isascii()
        and job_id.isdigit()
        and (job_id[0] != "0" or job_id == "0")
        # Before int(): Python refuses to convert a string of over 4,300 digits.
        and len(job_id) <= len(str(maximum))
    ):
        number = int(job_id)
        return number if number <= maximum else None
    return None
