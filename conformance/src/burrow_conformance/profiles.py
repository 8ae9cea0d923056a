"""Hypothesis budgets for the suite's property tests: ``dev`` (default), ``ci``, ``thorough``.

Chosen by ``--burrow-hypothesis-profile`` or the env var ``BURROW_HYPOTHESIS_PROFILE``. They
are plain ``settings`` objects applied to the suite's own Hypothesis tests only, never
registered or loaded as Hypothesis profiles, so a backend project's global Hypothesis
profile is left alone.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["ENV_VAR", "PROFILES", "profile_settings", "resolve_profile"]

ENV_VAR = "BURROW_HYPOTHESIS_PROFILE"

_COMMON = {
    "deadline": None,  # a real database's latency is not the property under test
    "suppress_health_check": [HealthCheck.too_slow],
    "print_blob": True,
}

PROFILES: dict[str, settings] = {
    # quick feedback while writing a backend
    "dev": settings(max_examples=25, stateful_step_count=25, **_COMMON),  # type: ignore[arg-type]
    # the whole suite per backend in about a minute; derandomized so CI runs are repeatable
    "ci": settings(
        max_examples=60,
        stateful_step_count=40,
        derandomize=True,
        database=None,
        **_COMMON,  # type: ignore[arg-type]
    ),
    # nightly / before a release
    "thorough": settings(max_examples=1000, stateful_step_count=80, **_COMMON),  # type: ignore[arg-type]
}


def resolve_profile(option: str | None) -> str:
    """The profile name from the option, else the env var, else ``dev``; checked."""
    name = option or os.environ.get(ENV_VAR) or "dev"
    if name not in PROFILES:
        raise ValueError(
            f"unknown burrow Hypothesis profile {name!r} (from "
            f"{'--burrow-hypothesis-profile' if option else ENV_VAR}); "
            f"choose one of {', '.join(PROFILES)}"
        )
    return name


def profile_settings(name: str) -> settings:
    return PROFILES[name]
