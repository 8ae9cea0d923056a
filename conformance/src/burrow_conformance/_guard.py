"""No silent overrides: a backend may replace a suite test only to mark it a known failure.

A ``Test<Store>(JobStoreTests)`` class that redefines a suite test must decorate the new
definition with ``@pytest.mark.xfail(reason="...")``. Anything else (a plain override, an
xfail without a reason, replacing the test with a non-function) would let a store pass a
rule it breaks, so the plugin stops the run at collection and names every offender.
(LangChain standard-tests' ``test_no_overrides_DO_NOT_OVERRIDE``, done at collection.)
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest

__all__ = ["SUITE_PACKAGE", "is_suite_class", "silent_overrides"]

SUITE_PACKAGE = "burrow_conformance.suite"


def is_suite_class(cls: type) -> bool:
    """A class the suite ships (its tests are the specification)."""
    module = cls.__module__
    return module == SUITE_PACKAGE or module.startswith(SUITE_PACKAGE + ".")


def _suite_test_names(cls: type) -> Iterator[str]:
    seen: set[str] = set()
    for base in cls.__mro__:
        if is_suite_class(base):
            for name in vars(base):
                if name.startswith("test") and name not in seen:
                    seen.add(name)
                    yield name


def _has_xfail_with_reason(obj: object) -> bool:
    marks = getattr(obj, "pytestmark", [])
    return any(
        mark.name == "xfail" and str(mark.kwargs.get("reason", "")).strip() for mark in marks
    )


def silent_overrides(cls: type) -> list[str]:
    """``"Class.test_name: why"`` for every suite test ``cls`` overrides without a reason."""
    problems = []
    for name in _suite_test_names(cls):
        owner = next(base for base in cls.__mro__ if name in vars(base))
        if is_suite_class(owner):
            continue
        replacement = vars(owner)[name]
        if not inspect.isfunction(replacement):
            problems.append(
                f"{owner.__qualname__}.{name}: replaced by {replacement!r}; a suite test may "
                "only be overridden by a test marked @pytest.mark.xfail(reason=...)"
            )
        elif not _has_xfail_with_reason(replacement):
            problems.append(
                f"{owner.__qualname__}.{name}: overrides a conformance test without "
                "@pytest.mark.xfail(reason=...); say why the store cannot pass it"
            )
    return problems


def check_collected_classes(items: list[pytest.Item]) -> None:
    """Raise a usage error naming every silent override among the collected test classes."""
    classes = {item.cls for item in items if isinstance(item, pytest.Function) and item.cls}
    problems = sorted(p for cls in classes if _subclasses_suite(cls) for p in silent_overrides(cls))
    if problems:
        raise pytest.UsageError(
            "burrow conformance: suite tests overridden without a stated reason:\n  "
            + "\n  ".join(problems)
        )


def _subclasses_suite(cls: type) -> bool:
    return not is_suite_class(cls) and any(is_suite_class(base) for base in cls.__mro__)
