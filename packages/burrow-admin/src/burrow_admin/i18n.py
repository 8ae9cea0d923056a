"""Which language a request gets, and the gettext catalogs (compiled with Babel) that speak it.

The choice, first match wins: an explicit ``?lang=`` (remembered in a cookie), the cookie,
the ``Accept-Language`` header, English.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from babel.dates import format_datetime, format_timedelta
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from starlette.requests import Request

from burrow_tasks.types import JobStatus

__all__ = [
    "DEFAULT_LOCALE",
    "LANG_COOKIE",
    "LOCALES",
    "N_",
    "STATUS_LABELS",
    "Localizer",
    "current_localizer",
    "localizer_for",
    "parse_accept_language",
    "translations_for",
    "using_localizer",
]

LOCALES: tuple[str, ...] = ("en", "de")
DEFAULT_LOCALE = "en"
LANG_COOKIE = "burrow_admin_lang"
DOMAIN = "burrow_admin"
LOCALE_DIR = Path(__file__).parent / "locale"

# One language range of Accept-Language: "de", "de-CH", "*", with an optional ";q=0.5".
_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$"
)


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


STATUS_LABELS: dict[JobStatus, str] = {
    JobStatus.PENDING: N_("Pending"),
    JobStatus.RUNNING: N_("Running"),
    JobStatus.FAILED: N_("Failed"),
    JobStatus.DEAD: N_("Dead"),
    JobStatus.COMPLETED: N_("Completed"),
}


def parse_accept_language(header: str) -> list[str]:
    """The primary language tags of an ``Accept-Language`` header, most wanted first.

    Malformed ranges and ``q=0`` are skipped: a header is a hint, never an error.
    """
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        match = _RANGE.match(part)
        if match is None:
            continue
        tag, q_text = match.groups()
        try:
            quality = float(q_text) if q_text is not None else 1.0
        except ValueError:
            continue
        if quality <= 0 or quality > 1:
            continue
        weighted.append((-quality, position, tag.split("-")[0].lower()))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(preferred: Sequence[str]) -> str:
    """The first of ``preferred`` this admin speaks (``*`` takes the default)."""
    for tag in preferred:
        if tag in LOCALES:
            return tag
        if tag == "*":
            return DEFAULT_LOCALE
    return DEFAULT_LOCALE


@cache
def translations_for(locale: str) -> NullTranslations:
    """The compiled catalog of ``locale`` (English is the source language)."""
    return Translations.load(str(LOCALE_DIR), [locale], domain=DOMAIN)


@dataclass(frozen=True, slots=True)
class Localizer:
    """Everything locale-dependent a page needs: messages, dates, numbers."""

    locale: str
    translations: NullTranslations
    now: datetime

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def timestamp(self, value: datetime) -> str:
        """A full UTC timestamp in the locale's order, seconds included."""
        return format_datetime(value.astimezone(UTC), "medium", tzinfo=UTC, locale=self.locale)

    def time(self, value: datetime) -> str:
        return format_datetime(value.astimezone(UTC), "HH:mm", tzinfo=UTC, locale=self.locale)

    def relative(self, value: datetime) -> str:
        """``value`` seen from now: "in 5 minutes", "3 seconds ago"."""
        if abs(value - self.now) < timedelta(seconds=1):
            return self.gettext(N_("just now"))
        return format_timedelta(
            value - self.now, add_direction=True, threshold=1.1, locale=self.locale
        )

    def number(self, value: int) -> str:
        return format_decimal(value, locale=self.locale)


def localizer_for(locale: str, now: datetime) -> Localizer:
    return Localizer(locale=locale, translations=translations_for(locale), now=now)


def header_locale(request: Request) -> str:
    """The locale from the cookie or ``Accept-Language``, ignoring ``?lang=``."""
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LOCALES:
        return cookie
    return negotiate(parse_accept_language(request.headers.get("accept-language", "")))


_current: ContextVar[Localizer | None] = ContextVar("burrow_admin_localizer", default=None)


@contextmanager
def using_localizer(localizer: Localizer) -> Iterator[Localizer]:
    """Make ``localizer`` the one templates translate with while rendering."""
    token = _current.set(localizer)
    try:
        yield localizer
    finally:
        _current.reset(token)


def current_localizer() -> Localizer:
    localizer = _current.get()
    if localizer is None:
        # Rendering outside a request (a host's own use of the environment): the source text.
        return localizer_for(DEFAULT_LOCALE, datetime.now(UTC))
    return localizer
