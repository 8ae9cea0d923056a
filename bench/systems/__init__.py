"""The benchmarked systems, loaded by name so a missing peer is reported, not fatal."""

from __future__ import annotations

import importlib

from bench.systems.base import NoBulkApi, System

__all__ = ["ALL", "NoBulkApi", "System", "SystemUnavailable", "load"]

_WHERE: dict[str, str] = {
    "burrow-memory": "bench.systems.burrow_q:BurrowMemory",
    "burrow-sqlite": "bench.systems.burrow_q:BurrowSqlite",
    "burrow-pg": "bench.systems.burrow_q:BurrowPostgres",
    "raw-pg": "bench.systems.raw_pg:RawPostgres",
    "pgqueuer": "bench.systems.pgqueuer_q:PgQueuerSystem",
    "oban": "bench.systems.oban_q:ObanSystem",
    "procrastinate": "bench.systems.procrastinate_q:ProcrastinateSystem",
    "raw-sqlite": "bench.systems.raw_sqlite:RawSqlite",
    "huey": "bench.systems.huey_q:HueySystem",
}

ALL: tuple[str, ...] = tuple(_WHERE)
"""Every system, in table order."""


class SystemUnavailable(Exception):
    """The system cannot run here; the message says why (e.g. "not installed: oban")."""


def load(name: str) -> type[System]:
    try:
        where = _WHERE[name]
    except KeyError:
        known = ", ".join(ALL)
        raise ValueError(f"unknown system {name!r}; known systems: {known}") from None
    module_name, _, class_name = where.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = exc.name or str(exc)
        raise SystemUnavailable(f"not installed: {missing}") from exc
    cls = getattr(module, class_name)
    if not (isinstance(cls, type) and issubclass(cls, System)):
        raise TypeError(f"{where} is not a System")
    return cls
