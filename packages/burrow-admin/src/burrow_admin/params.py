"""Reading query parameters: every bad value is a 400 naming the problem, never a 500."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import QueryParams

from burrow_admin.errors import BadParameter
from burrow_admin.i18n import LOCALES, N_
from burrow_tasks.text import is_storable
from burrow_tasks.types import JobStatus

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_PAGE",
    "MAX_TYPE_LENGTH",
    "ListQuery",
    "parse_lang",
    "parse_list_query",
]

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Far beyond any real page, low enough that offset = page * limit fits every database integer.
MAX_PAGE = 1_000_000
# DESIGN §2: a type name is 1-200 characters; a longer filter cannot match anything.
MAX_TYPE_LENGTH = 200
# One optional sign, then ASCII digits: int() would also take "1_000" and "٣".
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")

STATUS_ORDER: tuple[JobStatus, ...] = (
    JobStatus.PENDING,
    JobStatus.RUNNING,
    JobStatus.FAILED,
    JobStatus.DEAD,
    JobStatus.COMPLETED,
)
"""The order of the filter pills after "All" (DESIGN: the seed's admin)."""


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The list page's filters and position."""

    status: JobStatus | None = None
    type: str | None = None
    page: int = 1
    limit: int = DEFAULT_LIMIT

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def _parse_int(params: QueryParams, name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    if len(text) > 12 or _WHOLE_NUMBER.fullmatch(text) is None:
        raise BadParameter(
            N_("The parameter %(name)s must be a whole number, not %(value)s."),
            name=name,
            value=repr(raw),
        )
    return int(text)


def parse_status(raw: str | None) -> JobStatus | None:
    if raw is None or raw == "" or raw == "all":
        return None
    try:
        return JobStatus(raw)
    except ValueError:
        raise BadParameter(
            N_("Unknown status %(value)s: use one of %(choices)s."),
            value=repr(raw),
            choices=", ".join(s.value for s in STATUS_ORDER),
        ) from None


def parse_list_query(params: QueryParams) -> ListQuery:
    """The list page's query: ``status``, ``type``, ``page`` (1-based), ``limit`` (1..100)."""
    status = parse_status(params.get("status"))
    type_name = params.get("type") or None
    if type_name is not None and len(type_name) > MAX_TYPE_LENGTH:
        raise BadParameter(
            N_("The type filter is longer than %(max)s characters."), max=MAX_TYPE_LENGTH
        )
    if type_name is not None and not is_storable(type_name):
        # No job type holds a NUL or a lone surrogate, and PostgreSQL refuses to compare one.
        raise BadParameter(
            N_("The type filter %(value)s holds a character no job type can have."),
            value=repr(type_name),
        )
    page = _parse_int(params, "page")
    if page is None:
        page = 1
    elif not 1 <= page <= MAX_PAGE:
        raise BadParameter(
            N_("The page must be between 1 and %(max)s, not %(value)s."),
            max=MAX_PAGE,
            value=page,
        )
    limit = _parse_int(params, "limit")
    # The issue asks for a clamp, not an error: limit=0 shows one job, limit=500 a hundred.
    limit = DEFAULT_LIMIT if limit is None else min(max(limit, 1), MAX_LIMIT)
    return ListQuery(status=status, type=type_name, page=page, limit=limit)


def parse_lang(params: QueryParams) -> str | None:
    """The explicit language override ``?lang=``, or None when absent."""
    raw = params.get("lang")
    if raw is None or raw == "":
        return None
    if raw not in LOCALES:
        raise BadParameter(
            N_("Unknown language %(value)s: use one of %(choices)s."),
            value=repr(raw),
            choices=", ".join(LOCALES),
        )
    return raw
