"""The Jinja2 environment and the one way every page is rendered.

Templates live under ``burrow_admin/`` so a host app can replace any of them (usually
``burrow_admin/base.html``, to wrap the pages in its own layout) with a loader of its own,
searched first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from burrow_admin.errors import AdminError, BadParameter, Label
from burrow_admin.i18n import (
    LANG_COOKIE,
    LOCALES,
    STATUS_LABELS,
    Localizer,
    current_localizer,
    header_locale,
    localizer_for,
    using_localizer,
)
from burrow_admin.params import parse_lang
from burrow_admin.security import CSRF_FIELD, cookie_path, csrf_token
from burrow_admin.state import settings_of
from burrow_admin.urls import urls_for
from burrow_tasks.types import JobStatus

__all__ = ["build_templates", "render", "render_error", "request_localizer"]

TEMPLATE_DIR = Path(__file__).parent / "templates"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600

LANGUAGE_NAMES: dict[str, str] = {"en": "English", "de": "Deutsch"}


def pretty_json(text: str | None) -> str:
    """``text`` indented when it is JSON, else unchanged (a payload is shown as stored)."""
    if text is None:
        return ""
    try:
        value = json.loads(text)
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)
    except (ValueError, RecursionError):
        # A store keeps JSON nested deeper than indenting can recurse: show it as stored.
        return text


def _gettext(message: str) -> str:
    return current_localizer().gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return current_localizer().ngettext(singular, plural, n)


def _status_label(status: JobStatus) -> str:
    return current_localizer().gettext(STATUS_LABELS[status])


def build_environment(loader: jinja2.BaseLoader | None = None) -> jinja2.Environment:
    own = jinja2.FileSystemLoader(TEMPLATE_DIR)
    environment = jinja2.Environment(
        loader=jinja2.ChoiceLoader([loader, own]) if loader is not None else own,
        # Every page is HTML and every value in it may be hostile: escape always.
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    environment.filters["pretty_json"] = pretty_json
    environment.globals["status_label"] = _status_label
    environment.globals["JobStatus"] = JobStatus
    environment.globals["language_names"] = LANGUAGE_NAMES
    return environment


def build_templates(loader: jinja2.BaseLoader | None = None) -> Jinja2Templates:
    return Jinja2Templates(env=build_environment(loader))


def request_localizer(request: Request) -> Localizer:
    """The localizer for this request; a bad ``?lang=`` is a 400."""
    settings = settings_of(request)
    locale = parse_lang(request.query_params) or header_locale(request)
    return localizer_for(locale, settings.queue.clock.now())


def _with_lang(request: Request, code: str) -> str:
    """This page in another language, every other query parameter kept."""
    if request.method not in ("GET", "HEAD"):
        # A page answering a POST (a confirmation, an action's error) is no address a link
        # can open again (a GET there is a 405): switch on the job's page instead.
        urls = urls_for(request)
        job_id = request.path_params.get("job_id")
        target = urls.job(job_id) if isinstance(job_id, str) else urls.home()
        return target + "?" + urlencode([("lang", code)])
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    # One leading slash: a request for "//host" must not link to another site.
    path = "/" + request.url.path.lstrip("/")
    return path + "?" + urlencode([*params, ("lang", code)])


def _page(
    request: Request,
    name: str,
    context: dict[str, Any],
    localizer: Localizer,
    status_code: int,
) -> Response:
    settings = settings_of(request)
    full: dict[str, Any] = {
        "admin_title": settings.title,
        "urls": urls_for(request),
        "l10n": localizer,
        "locales": LOCALES,
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request, settings.csrf),
        "lang_links": [(code, _with_lang(request, code)) for code in LOCALES],
        **context,
    }
    with using_localizer(localizer):
        return settings.templates.TemplateResponse(request, name, full, status_code=status_code)


def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    """Render a page in the request's language; an explicit ``?lang=`` is remembered."""
    localizer = request_localizer(request)
    response = _page(request, name, context, localizer, status_code)
    explicit = parse_lang(request.query_params)
    if explicit is not None and request.cookies.get(LANG_COOKIE) != explicit:
        response.set_cookie(
            LANG_COOKIE,
            explicit,
            max_age=LANG_COOKIE_MAX_AGE,
            path=cookie_path(request.scope),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


def render_error(request: Request, status_code: int, message: str, **params: object) -> Response:
    """An error page: ``message`` (a message id) translated, then filled with ``params``."""
    try:
        locale = parse_lang(request.query_params) or header_locale(request)
    except BadParameter:
        locale = header_locale(request)
    localizer = localizer_for(locale, settings_of(request).queue.clock.now())
    text = localizer.gettext(message)
    if params:
        text = text % {
            name: localizer.gettext(value) if isinstance(value, Label) else value
            for name, value in params.items()
        }
    return _page(
        request,
        "burrow_admin/error.html",
        {"status_code": status_code, "message": text},
        localizer,
        status_code,
    )


def render_admin_error(request: Request, error: AdminError) -> Response:
    return render_error(request, error.status_code, error.message, **error.params)
