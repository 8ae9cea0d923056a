"""The cross-process claimers' children: started from a fresh interpreter, yet under the test
process's environment variables as they are when the work is submitted."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import pytest

from burrow_conformance._claimers import in_environment, process_context


def test_a_claimer_sees_an_environment_variable_set_after_its_server_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with ProcessPoolExecutor(1, mp_context=process_context()) as pool:
        pool.submit(os.getpid).result()  # the children's server (a forkserver) runs now
        monkeypatch.setenv("BURROW_CLAIMER_PROBE", "set after the start")

        seen = pool.submit(
            in_environment, dict(os.environ), os.getenv, "BURROW_CLAIMER_PROBE"
        ).result()

    assert seen == "set after the start"


def test_a_claimer_runs_in_another_process() -> None:
    with ProcessPoolExecutor(1, mp_context=process_context()) as pool:
        child = pool.submit(in_environment, dict(os.environ), os.getpid).result()

    assert child != os.getpid()
