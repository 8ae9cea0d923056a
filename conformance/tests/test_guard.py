"""The plugin's promises to a backend author: no silent overrides, skips carry reasons,
a missing fixture or a bad option is named."""

from __future__ import annotations

import pytest

WIRING = """
import pytest
from burrow_conformance import JobStoreTests
from burrow_jobs_memory import MemoryStore


@pytest.fixture
def burrow_store():
    async def new_store():
        return MemoryStore()

    return new_store


class TestMemory(JobStoreTests):
{body}
"""

ONE_TEST = "test_claim_prefers_higher_priority"


def _wire(pytester: pytest.Pytester, body: str = "    pass") -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_store=WIRING.format(body=body))


def test_override_without_xfail_stops_the_run_naming_the_test(pytester: pytest.Pytester) -> None:
    _wire(pytester, f"    def {ONE_TEST}(self):\n        pass\n")
    result = pytester.runpytest_inprocess("-k", ONE_TEST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*TestMemory.{ONE_TEST}: overrides a conformance test without*xfail(reason=...)*"]
    )


def test_override_with_xfail_and_a_reason_is_allowed(pytester: pytest.Pytester) -> None:
    _wire(
        pytester,
        f"    @pytest.mark.xfail(reason='our claim ignores priority (issue 7)', strict=True)\n"
        f"    def {ONE_TEST}(self):\n        raise AssertionError('known')\n",
    )
    result = pytester.runpytest_inprocess("-k", ONE_TEST)
    result.assert_outcomes(xfailed=1)


def test_override_with_xfail_but_no_reason_stops_the_run(pytester: pytest.Pytester) -> None:
    _wire(pytester, f"    @pytest.mark.xfail\n    def {ONE_TEST}(self):\n        pass\n")
    result = pytester.runpytest_inprocess("-k", ONE_TEST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_deleting_a_suite_test_stops_the_run(pytester: pytest.Pytester) -> None:
    _wire(pytester, f"    {ONE_TEST} = None\n    def test_other(self):\n        pass\n")
    result = pytester.runpytest_inprocess("-k", "test_other")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*TestMemory.{ONE_TEST}: replaced by None*"])


def test_a_backends_own_extra_tests_are_allowed(pytester: pytest.Pytester) -> None:
    _wire(pytester, "    def test_memory_specific(self):\n        pass\n")
    result = pytester.runpytest_inprocess("-k", "memory_specific")
    result.assert_outcomes(passed=1)


def test_missing_capability_skips_with_the_reason_shown(pytester: pytest.Pytester) -> None:
    _wire(pytester)
    result = pytester.runpytest_inprocess("-rs", "-k", "separate_processes")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*store does not declare capability 'cross_process'*"])


def test_a_capability_skip_is_reported_at_the_test_it_skipped(pytester: pytest.Pytester) -> None:
    _wire(pytester)
    result = pytester.runpytest_inprocess("-rs", "-k", "separate_processes or using_a_transaction")
    skips = [line for line in result.stdout.lines if line.startswith("SKIPPED")]
    # One line per skipped test, each at the line where the suite defines it.
    assert len(skips) == result.parseoutcomes()["skipped"] > 1
    assert all("burrow_conformance/suite/" in line for line in skips)
    assert not any("_harness.py" in line for line in skips)


def test_missing_burrow_store_fixture_is_named(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_store="from burrow_conformance import JobStoreTests\n\n"
        "class TestNothing(JobStoreTests):\n    pass\n"
    )
    result = pytester.runpytest_inprocess("-k", ONE_TEST)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*define a `burrow_store` fixture returning an async factory*"])


def test_unknown_hypothesis_profile_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _wire(pytester)
    monkeypatch.setenv("BURROW_HYPOTHESIS_PROFILE", "nightly")
    result = pytester.runpytest_inprocess("-k", ONE_TEST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown burrow Hypothesis profile 'nightly'*ci*"])


def test_a_factory_returning_a_non_store_is_named(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_store="import pytest\nfrom burrow_conformance import JobStoreTests\n\n"
        "@pytest.fixture\ndef burrow_store():\n    async def new():\n        return object()\n"
        "    return new\n\n"
        "class TestNothing(JobStoreTests):\n    pass\n"
    )
    result = pytester.runpytest_inprocess("-k", ONE_TEST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*does not implement burrow_tasks.JobStore*"])


def test_a_class_can_size_its_own_concurrency_runs(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_store=WIRING.format(body="    pass")
        + """

class TestMemorySmall(JobStoreTests):
    @pytest.fixture
    def burrow_suite_options(self, burrow_suite_options):
        import dataclasses
        return dataclasses.replace(burrow_suite_options, claim_jobs=7)

    def test_sizes(self, burrow_harness):
        assert burrow_harness.options.claim_jobs == 7
        assert burrow_harness.options.claimers == 3


def test_default_sizes(burrow_harness):
    assert burrow_harness.options.claim_jobs == 9
"""
    )
    result = pytester.runpytest_inprocess(
        "--burrow-claim-jobs=9", "--burrow-claimers=3", "-k", "sizes"
    )
    result.assert_outcomes(passed=2)
