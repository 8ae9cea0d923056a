"""Every hook is documented in the README with its exact signature, and has a test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from burrow_tasks import hookspecs

PACKAGE = Path(__file__).parent.parent
HOOKS = sorted(name for name in vars(hookspecs) if name.startswith("burrow_"))


def _signature(name: str) -> str:
    hook = getattr(hookspecs, name)
    params = ", ".join(
        f"{p.name}: {p.annotation}" for p in inspect.signature(hook).parameters.values()
    )
    return f"{name}({params}) -> {inspect.signature(hook).return_annotation}"


def test_there_are_hooks_to_check() -> None:
    assert HOOKS == ["burrow_backend", "burrow_register_jobs"]


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_documented_with_its_signature(name: str) -> None:
    readme = (PACKAGE / "README.md").read_text()

    assert f"### `{_signature(name)}`" in readme


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_test(name: str) -> None:
    sources = "\n".join(path.read_text() for path in (PACKAGE / "tests").glob("test_*.py"))

    assert re.search(rf"def test_hook_{name}\b", sources)
