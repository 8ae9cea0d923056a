"""The one entry point for checks: `python -m nox` runs them all, `nox -s demo` the demo.

Every package's tests run in an environment of their own holding only that package, its
declared dependencies and its `test` dependency group, so an undeclared dependency on a
sibling fails here rather than for a user. Local packages are installed editable; their
names are never looked up on PyPI.

Heavy legs (PostgreSQL, the browser, the Hypothesis `ci` profile, the benchmark) run on
Python 3.12 only. Under CI=true a missing PostgreSQL, Chromium or interpreter fails the run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PYTHONS = ["3.11", "3.12", "3.13"]
HEAVY_PYTHON = "3.12"
DATABASES = ["sqlite", "postgres"]

# distribution name -> folder, for every package of this repository
LOCAL = {
    "burrow-tasks": "packages/burrow-tasks",
    "burrow-jobs-memory": "packages/burrow-jobs-memory",
    "burrow-jobs-sql": "packages/burrow-jobs-sql",
    "burrow-admin": "packages/burrow-admin",
    "burrow-conformance": "conformance",
    "burrow-example-store": "conformance/examples",
}
# packages whose tests run in the plain `tests` matrix (SQL and conformance have their own)
UNIT_PACKAGES = ["burrow-tasks", "burrow-jobs-memory", "burrow-admin"]

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = [
    "lint",
    "types",
    "tests",
    "conformance",
    "sql",
    "browser",
    "demo_smoke",
    "bench_quick",
]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    return match.group(0).lower().replace("_", "-") if match else ""


def _pyproject(dist: str) -> dict[str, object]:
    return nox.project.load_toml(str(ROOT / LOCAL[dist] / "pyproject.toml"))


def _requirements(dist: str, group: str | None) -> list[str]:
    pyproject = _pyproject(dist)
    project = pyproject.get("project", {})
    assert isinstance(project, dict)
    requirements = list(project.get("dependencies", []))
    if group is not None:
        requirements += list(nox.project.dependency_groups(pyproject, group))
    return requirements


def install_local(session: nox.Session, *dists: str, group: str | None = "test") -> None:
    """Install ``dists`` editable with their groups; local requirements become editable
    installs of their folders (transitively), everything else comes from the index."""
    editable: list[str] = []
    external: list[str] = []
    seen: set[tuple[str, str | None]] = set()
    pending = [(dist, group) for dist in dists]
    while pending:
        dist, dist_group = pending.pop()
        if (dist, dist_group) in seen:
            continue
        seen.add((dist, dist_group))
        if LOCAL[dist] not in editable:
            editable.append(LOCAL[dist])
        for requirement in _requirements(dist, dist_group):
            name = _name(requirement)
            if name in LOCAL:
                pending.append((name, None))
            elif requirement not in external:
                external.append(requirement)
    args = [arg for path in editable for arg in ("-e", path)]
    session.install(*args, *external)


def hypothesis_profile(session: nox.Session) -> str:
    return "ci" if session.python == HEAVY_PYTHON else "dev"


# lint, types and the demo run on the Python that runs nox, so they work on any machine
@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def types(session: nox.Session) -> None:
    """mypy strict over every package's sources and tests, one package per run: test modules
    are top-level (no ``__init__.py``), so two packages' ``conftest`` would collide."""
    present = [dist for dist, path in LOCAL.items() if (ROOT / path / "pyproject.toml").exists()]
    install_local(session, *present)
    session.install("mypy", "nox", "types-greenlet")
    # conformance/examples is checked with the conformance suite, whose mutants import it
    folders = [LOCAL[dist] for dist in present if dist != "burrow-example-store"]
    for target in [*folders, "examples", "noxfile.py"]:
        session.run("mypy", target)


@nox.session(python=PYTHONS)
@nox.parametrize("package", UNIT_PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """Each package's own tests, in an environment holding only what it declares."""
    if not (ROOT / LOCAL[package] / "pyproject.toml").exists():
        session.skip(f"{package} does not exist yet")
    install_local(session, package)
    # The admin's runs over PostgreSQL are a heavy leg like the sql session's: 3.12 only.
    heavy_only = ["-k", "not postgres"] if session.python != HEAVY_PYTHON else []
    session.run(
        "pytest",
        f"{LOCAL[package]}/tests",
        "-m",
        "not browser",
        *heavy_only,
        *session.posargs,
        env={"BURROW_HYPOTHESIS_PROFILE": hypothesis_profile(session)},
    )


def _race_size(session: nox.Session) -> list[str]:
    """The conformance races (rescue against complete and heartbeat, cancel against complete)
    at full size (1,000 jobs) on the heavy leg, at 300 on the other Pythons."""
    return [] if session.python == HEAVY_PYTHON else ["--burrow-rescue-jobs=300"]


@nox.session(python=PYTHONS)
def conformance(session: nox.Session) -> None:
    """The conformance suite's self-tests (mutants, guard) and the example store wired in as
    a third party would. The memory and SQL stores run it in their own test sessions."""
    install_local(session, "burrow-conformance", "burrow-example-store")
    session.run(
        "pytest",
        "conformance/tests",
        "conformance/examples",
        *_race_size(session),
        *session.posargs,
        env={"BURROW_HYPOTHESIS_PROFILE": hypothesis_profile(session)},
    )


@nox.session(python=PYTHONS)
@nox.parametrize("db", DATABASES)
def sql(session: nox.Session, db: str) -> None:
    """burrow-jobs-sql on SQLite (every Python) and PostgreSQL (3.12)."""
    if db == "postgres" and session.python != HEAVY_PYTHON:
        session.skip("the PostgreSQL leg runs on Python 3.12 only")
    install_local(session, "burrow-jobs-sql", "burrow-conformance")
    # the cross-process claim test at full size (4 processes x 10,000 jobs) on the heavy leg
    scale = ["--burrow-claim-jobs=10000"] if session.python == HEAVY_PYTHON else []
    session.run(
        "pytest",
        "packages/burrow-jobs-sql/tests",
        f"--burrow-db={db}",
        *scale,
        *_race_size(session),
        *session.posargs,
        env={"BURROW_HYPOTHESIS_PROFILE": hypothesis_profile(session)},
    )


@nox.session(python=HEAVY_PYTHON)
def browser(session: nox.Session) -> None:
    """The admin in a real Chromium (Debian's /usr/bin/chromium) driven by Playwright."""
    install_local(session, "burrow-admin")
    session.run("pytest", "packages/burrow-admin/tests", "-m", "browser", *session.posargs)


def _install_bench(session: nox.Session) -> None:
    install_local(session, "burrow-jobs-sql", "burrow-jobs-memory", group=None)
    session.install("-r", "bench/requirements-peers.txt")


@nox.session(python=HEAVY_PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmark against the peers and the raw-SQL floors (`-- --quick` for a short run)."""
    _install_bench(session)
    session.run("python", "-m", "bench", *session.posargs)


@nox.session(python=HEAVY_PYTHON)
def bench_quick(session: nox.Session) -> None:
    """The benchmark in --quick mode: proves the harness works; figures are not kept.
    The harness is type-checked here, where the peers it drives are installed."""
    _install_bench(session)
    session.install("mypy")
    session.run("mypy", "bench")
    session.run("python", "-m", "bench", "--quick", "--no-save", *session.posargs)


def _install_demo(session: nox.Session) -> None:
    install_local(session, "burrow-jobs-sql", "burrow-admin", group=None)
    session.install("uvicorn>=0.30", "httpx>=0.27")


@nox.session
def demo(session: nox.Session) -> None:
    """The demo web app on SQLite with the admin: embedded storage, no server needed."""
    _install_demo(session)
    session.run("python", "examples/demo/demo.py", *session.posargs)


@nox.session(python=HEAVY_PYTHON)
def demo_smoke(session: nox.Session) -> None:
    """The demo app, headless: clicks through it and waits for every job's expected state."""
    _install_demo(session)
    session.run("python", "examples/demo/demo.py", "--smoke", *session.posargs)
